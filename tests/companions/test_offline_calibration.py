"""A newcomer's no-model chat moves the relationship: 15 warm turns, 15 hostile turns.

Each message goes through the HTTP API, the real pipeline and the post-process (django-q2 in
synchronous mode), answered and evaluated by the offline model, under the default inertia.
"""

from __future__ import annotations

import pytest

from companions.domain.affinity import EMA_INERTIA_DEFAULT
from companions.models import ChatMessage, CompanionAffinity, CompanionAffinityEvent
from eros.llm.offline import OfflineChatModel

# Clearly warm: one or two warm words each, no hostile one.
WARM = [
    "Hi! I love your energy.",
    "Thank you for listening to me.",
    "You are so sweet, honestly.",
    "I had a lovely day at the beach.",
    "That was really funny haha",
    "I appreciate you a lot.",
    "You're amazing at this.",
    "I missed you today.",
    "What a wonderful thing to say.",
    "My dog is adorable, you'd love him.",
    "I'm glad we talk.",
    "This is fun!",
    "You're the best listener.",
    "Sending you a hug :)",
    "Thanks, that made me happy.",
]
# Clearly hostile: two hostile hits each (a word and a phrase, or two words).
HOSTILE = [
    "Shut up, you're boring.",
    "You're stupid and useless.",
    "Go away, idiot.",
    "Ugh, you're so annoying. Shut up.",
    "This is pathetic and boring.",
    "You're a dumb loser.",
    "Leave me alone, moron.",
    "Boring. Stupid bot.",
    "I hate this, it's awful.",
    "Screw you, liar.",
    "Worst chat ever, stupid.",
    "Shut up already, idiot.",
    "You're useless and dumb.",
    "Go away, you're boring.",
    "Ugly, stupid answers.",
]


@pytest.fixture
def offline_chat(settings):
    model = OfflineChatModel()
    settings.EROS_CHAT_MODEL = model
    settings.EMA_INERTIA = EMA_INERTIA_DEFAULT
    return model


def _chat(client, session, messages: list[str]) -> list[dict]:
    bodies = []
    for text in messages:
        response = client.post(f"/comp/chat/{session.id}/message", {"content": text}, format="json")
        assert response.status_code == 200, response.content
        bodies.append(response.json())
    return bodies


@pytest.mark.django_db(transaction=True)
def test_fifteen_warm_turns_raise_warmth_visibly(alice_session, client_for, alice, offline_chat):
    _chat(client_for(alice), alice_session, WARM)

    row = CompanionAffinity.objects.get(session=alice_session)
    assert row.warmth - 0.3 >= 0.15  # a new session starts at 0.3
    assert row.tension < 0.1 and row.trust > 0.2
    events = CompanionAffinityEvent.objects.filter(affinity=row, event_type="message")
    assert events.count() == 15
    assert {e.context["source"] for e in events} == {"offline"}
    assert all(e.context["model"] == "offline" for e in events)
    assert all(e.deltas["warmth"] >= 0.06 for e in events)


@pytest.mark.django_db(transaction=True)
def test_fifteen_hostile_turns_get_a_ghost_outside_demo_mode(
    alice_session, client_for, alice, offline_chat
):
    assert not alice_session.is_demo
    _chat(client_for(alice), alice_session, HOSTILE)

    statuses = list(
        ChatMessage.objects.filter(session=alice_session, role="user")
        .order_by("sent_at")
        .values_list("turn_status", flat=True)
    )
    assert len(statuses) == 15
    assert "ghosted" in statuses
    # The PDE never ghosts before the 10th message.
    assert "ghosted" not in statuses[:9]
    row = CompanionAffinity.objects.get(session=alice_session)
    assert row.total_ghosts >= 1
    assert row.warmth < 0.0 and row.tension >= 0.4 and row.intrigue <= 0.15
    sources = set(
        CompanionAffinityEvent.objects.filter(affinity=row).values_list(
            "context__source", flat=True
        )
    )
    assert sources == {"offline", "ghost"}
