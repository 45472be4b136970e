"""A relationship worth debugging: 50 turns of alice with Noor (two ghosted, one failed, a gift),
the affinity moved through the real services, and 1,000 memories embedded by the local
embedder (bulk-created)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

TURNS = 50
MEMORIES = 1000
GHOSTED = (22, 35)
FAILED = 41
GIFT_AFTER = 30

OPENERS = [
    "Hi Noor! I'm Sam. I live in Glasgow, right next to the river.",
    "I work as a pharmacist, mostly early shifts at a big hospital.",
    "My beagle is called Biscuit and he steals socks.",
    "On weekends I love kayaking, when the Scottish weather allows it.",
    "What does someone who looks after a seed vault actually do all day?",
]
TOPICS = ["the river", "Biscuit", "my shift", "kayaking", "moss", "the rain", "my sister", "tea"]
CATEGORY_CYCLE = ["fact", "preference", "event", "emotion", "relation", None]


@dataclass
class Relationship:
    session: object
    affinity: object
    user_messages: list = field(default_factory=list)
    assistant_messages: list = field(default_factory=list)
    system_error: object = None
    memories: list = field(default_factory=list)
    dog_memories: list = field(default_factory=list)
    started: datetime | None = None


def user_line(i: int) -> str:
    if i < len(OPENERS):
        return OPENERS[i]
    return f"Turn {i}: today I kept thinking about {TOPICS[i % len(TOPICS)]}, honestly."


def memory_text(i: int) -> str:
    topic, mood = TOPICS[i % len(TOPICS)], ["calm", "tired", "happy"][i % 3]
    return f"Memory {i}: Sam talked about {topic} on day {i % 30} ({mood})"


@pytest.fixture(scope="module")
def relationship(django_db_setup, django_db_blocker) -> Relationship:
    """Built once per test module inside a transaction that is rolled back afterwards.

    Each test still runs in its own savepoint (pytest-django), so what a test changes is
    undone before the next one; sharing the build keeps 1,000 embedded rows affordable.
    """
    from django.db import transaction

    with django_db_blocker.unblock(), transaction.atomic():
        yield build_relationship()
        transaction.set_rollback(True)


@pytest.fixture
def fresh_relationship(db) -> Relationship:
    """The same relationship built for one test (for live-server tests, which commit)."""
    return build_relationship()


def build_relationship() -> Relationship:
    from companions.domain.types import AffinityDeltas
    from companions.models import ChatMessage, CompanionAffinity
    from companions.services.affinity import affinity_apply_deltas, affinity_record_ghost
    from companions.services.sessions import session_start
    from eros.llm.embeddings_local import LocalEmbedder
    from memory.models import CompanionMemory
    from personas.models import PersonaGenome
    from personas.services import personas_seed
    from tests.conftest import ALICE as alice
    from tests.conftest import FIXTURES

    personas_seed(directory=FIXTURES / "personas")
    noor = PersonaGenome.objects.get(name="Noor")
    session = session_start(user_id=alice, genome_id=noor.id).session
    ChatMessage.objects.filter(session=session).delete()  # the greeting: history is built below
    t0 = timezone.now() - timedelta(days=5)
    CompanionAffinity.objects.filter(session=session).delete()
    affinity = CompanionAffinity.objects.create(
        session=session,
        user_id=alice,
        instance_id=session.instance_id,
        created_at=t0,
        updated_at=t0,
    )
    rel = Relationship(session=session, affinity=affinity, started=t0)

    memory_ids = [uuid.uuid4() for _ in range(MEMORIES)]
    messages = []
    for i in range(TURNS):
        at = t0 + timedelta(hours=2 * i)
        status = (
            ChatMessage.TURN_GHOSTED
            if i in GHOSTED
            else ChatMessage.TURN_FAILED
            if i == FAILED
            else ChatMessage.TURN_REPLIED
        )
        signals = {
            "message_count": 2 * i,
            "hours_since_last_message": 2.0 if i else None,
            "hours_since_last_ghost": None,
            "ghost_score": 0.71 if i in GHOSTED else 0.42,
            "ghost_rule": "above_threshold"
            if i in GHOSTED
            else ("too_new" if 2 * i < 10 else "below_threshold"),
        }
        user = ChatMessage(
            session=session,
            role="user",
            content=user_line(i),
            sent_at=at,
            turn_status=status,
            context={"plan": {"action": "ghost", "style": "cold"}, "signals": signals}
            if i in GHOSTED
            else {},
        )
        messages.append(user)
        rel.user_messages.append(user)
        if status == ChatMessage.TURN_REPLIED:
            reply = ChatMessage(
                session=session,
                role="assistant",
                content=f"Noor answers turn {i} warmly, asking about {TOPICS[i % len(TOPICS)]}.",
                sent_at=at + timedelta(seconds=40),
                reply_to_id=user.id,
                context={
                    "plan": {"action": "reply", "style": "warm", "rule_deltas": {"warmth": 0.02}},
                    "signals": signals,
                    "model": "offline",
                    "recall": {
                        "profile": [str(memory_ids[i])],
                        "relationship": [str(memory_ids[i + 500])],
                    },
                    "latency_ms": 12.5,
                },
            )
            messages.append(reply)
            rel.assistant_messages.append(reply)
        if i == FAILED:
            rel.system_error = ChatMessage(
                session=session,
                role="system_error",
                content="reply failed: provider returned 503 after 2 retries",
                sent_at=at + timedelta(seconds=5),
                reply_to_id=user.id,
            )
            messages.append(rel.system_error)
        if i == GIFT_AFTER:
            messages.append(
                ChatMessage(
                    session=session,
                    role="gift_user",
                    content="[gift] a bunch of roses",
                    sent_at=at + timedelta(minutes=5),
                )
            )
    ChatMessage.objects.bulk_create(messages)

    # The vector moves through the services, in time order, as the pipeline would move it.
    for i, user in enumerate(rel.user_messages):
        at = user.sent_at + timedelta(minutes=1)
        if i in GHOSTED:
            affinity_record_ghost(
                session=session,
                deltas=AffinityDeltas(patience=-0.05, tension=0.05),
                now=at,
                context={"user_message_id": str(user.id), "ghost_rule": "above_threshold"},
            )
        elif i != FAILED:
            llm = i % 2 == 1
            affinity_apply_deltas(
                session=session,
                deltas=AffinityDeltas(
                    warmth=0.12 if llm else 0.05,
                    trust=0.08,
                    intrigue=-0.03 if i % 3 else 0.06,
                    intimacy=0.06,
                    patience=-0.02,
                    tension=0.04 if i % 4 == 0 else -0.02,
                ),
                event_type="message",
                context={"user_message_id": str(user.id), "source": "llm" if llm else "rules"}
                | ({"reason": f"Sam opened up about {TOPICS[i % len(TOPICS)]}"} if llm else {}),
                now=at,
            )
        if i == GIFT_AFTER:
            affinity_apply_deltas(
                session=session,
                deltas=AffinityDeltas(warmth=0.15, intimacy=0.1),
                event_type="gift",
                context={"source": "gift", "label": "roses"},
                now=at + timedelta(minutes=5),
            )
    affinity.refresh_from_db()

    texts = [memory_text(i) for i in range(MEMORIES)]
    dog = {3: "Sam has a beagle called Biscuit", 503: "Biscuit the beagle stole Sam's socks again"}
    texts = [dog.get(i, text) for i, text in enumerate(texts)]
    vectors = LocalEmbedder().embed_documents(texts)
    replied = [m for m in rel.user_messages if m.turn_status == "replied"]
    rows = []
    for i in range(MEMORIES):
        relationship_layer = i >= 500
        source = replied[i % len(replied)]
        rows.append(
            CompanionMemory(
                id=memory_ids[i],
                session=session,
                user_id=alice,
                instance_id=session.instance_id if relationship_layer else None,
                content=texts[i],
                embedding=vectors[i],
                category=CATEGORY_CYCLE[i % len(CATEGORY_CYCLE)],
                source_message_ids=[source.id],
                occurred_at=source.sent_at,
                importance=0.5 if i % 7 == 0 else None,
                deleted_at=timezone.now() if i % 97 == 0 else None,
            )
        )
    rel.memories = CompanionMemory.objects.bulk_create(rows)
    rel.dog_memories = [rel.memories[3], rel.memories[503]]
    return rel


@pytest.fixture
def staff(admin_user):
    return admin_user


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Logging staff in needs a password hash; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
