"""Dreaming: claims, re-distillation, failures, and four sweepers at once (DESIGN §7)."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from companions.models import ChatMessage, ChatSession
from companions.services.dreaming import (
    dreaming_backlog,
    dreaming_backoff_secs,
    dreaming_schedule_ensure,
    dreaming_sweep,
    dreaming_sweep_one,
)
from eros.llm.base import TASK_MEMORY
from eros.llm.fakes import FakeChatModel, FakeEmbedder, RecordingChatModel
from eros.llm.offline import OfflineChatModel
from eros.llm.offline.inputs import transcript_of
from memory.models import CompanionMemory

HOBBIES = ["sea kayaking", "rock climbing", "baking bread", "chess"]
CITIES = [
    "Lisbon",
    "Porto",
    "Madrid",
    "Berlin",
    "Oslo",
    "Vienna",
    "Quito",
    "Lima",
    "Accra",
    "Kyoto",
]


def conversation(user_id, *, lines, at, instance_id=None):
    """A session whose messages (alternating user/assistant, 1 s apart) end at ``at``."""
    start = at - timedelta(seconds=len(lines))
    session = ChatSession.objects.create(
        user_id=user_id, instance_id=instance_id or uuid.uuid4(), last_active_at=at
    )
    add_messages(session, lines, start=start)
    return session


def add_messages(session, lines, *, start):
    rows = [
        ChatMessage(
            session=session,
            role=ChatMessage.ROLE_USER if i % 2 == 0 else ChatMessage.ROLE_ASSISTANT,
            content=text,
            sent_at=start + timedelta(seconds=i),
        )
        for i, text in enumerate(lines)
    ]
    ChatMessage.objects.bulk_create(rows)
    user_times = [r.sent_at for r in rows if r.role == ChatMessage.ROLE_USER]
    ChatSession.objects.filter(id=session.id).update(last_active_at=max(user_times))
    return rows


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def idle_at(now):
    """An instant two hours ago: idle well past DREAMING_IDLE_SECS (30 min)."""
    return now - timedelta(hours=2)


@pytest.fixture
def offline():
    return RecordingChatModel(OfflineChatModel())


def sent_ids(request) -> list[str]:
    return [m.id for m in transcript_of(request)]


@pytest.mark.django_db
def test_an_idle_session_is_distilled_into_categorised_memories_citing_sources(
    alice, now, idle_at, offline
):
    session = conversation(
        alice, lines=["I live in Lisbon.", "Nice!", "I love sea kayaking."], at=idle_at
    )
    assert dreaming_backlog(now=now) == 1
    outcome = dreaming_sweep_one(now=now, chat_model=offline)
    assert (outcome.status, outcome.messages, outcome.created, outcome.merged) == (
        "distilled",
        3,
        2,
        0,
    )
    user_ids = list(
        session.messages.filter(role="user").order_by("sent_at").values_list("id", flat=True)
    )
    memories = {
        m.content: m
        for m in CompanionMemory.objects.filter(user_id=alice, instance_id__isnull=True)
    }
    assert {c: m.category for c, m in memories.items()} == {
        "Lives in Lisbon": "fact",
        "Loves sea kayaking": "preference",
    }
    assert memories["Lives in Lisbon"].source_message_ids == [user_ids[0]]
    assert memories["Loves sea kayaking"].source_message_ids == [user_ids[1]]
    newest = session.messages.order_by("-sent_at").first().sent_at
    assert all(m.occurred_at == newest for m in memories.values())
    session.refresh_from_db()
    assert session.classified_at == newest
    assert session.classification_claimed_at is None
    assert offline.tasks() == [TASK_MEMORY]
    assert dreaming_backlog(now=now) == 0
    assert dreaming_sweep_one(now=now, chat_model=offline) is None


@pytest.mark.django_db
def test_a_session_active_within_the_idle_window_waits(alice, now, offline):
    conversation(alice, lines=["I live in Lisbon."], at=now - timedelta(minutes=10))
    assert dreaming_sweep_one(now=now, chat_model=offline) is None
    assert offline.requests == []


@pytest.mark.django_db
def test_new_messages_after_distillation_are_distilled_again_and_alone(
    alice, now, idle_at, offline
):
    session = conversation(alice, lines=["I live in Lisbon.", "Nice!"], at=idle_at)
    assert dreaming_sweep_one(now=idle_at + timedelta(hours=1), chat_model=offline)
    later = add_messages(
        session,
        ["I love rock climbing.", "Cool!", "I work as a nurse."],
        start=idle_at + timedelta(hours=1, minutes=1),
    )
    # Not idle yet.
    assert (
        dreaming_sweep_one(now=idle_at + timedelta(hours=1, minutes=5), chat_model=offline) is None
    )
    outcome = dreaming_sweep_one(now=now + timedelta(hours=1), chat_model=offline)
    assert outcome.status == "distilled" and outcome.messages == 3
    assert sent_ids(offline.requests[1]) == [str(m.id) for m in later]
    newer = CompanionMemory.objects.filter(source_message_ids__overlap=[m.id for m in later])
    assert sorted(newer.values_list("content", flat=True)) == [
        "Loves rock climbing",
        "Works as a nurse",
    ]
    assert CompanionMemory.objects.count() == 3
    session.refresh_from_db()
    assert session.classified_at == later[-1].sent_at
    assert dreaming_sweep_one(now=now + timedelta(hours=2), chat_model=offline) is None


@pytest.mark.django_db
def test_an_unparsable_answer_stamps_the_session_without_memories(alice, now, idle_at):
    session = conversation(alice, lines=["I live in Lisbon.", "Nice!"], at=idle_at)
    model = FakeChatModel(["I'd rather not answer in JSON."])
    outcome = dreaming_sweep_one(now=now, chat_model=model)
    assert outcome.status == "unparsable"
    session.refresh_from_db()
    assert session.classified_at == session.messages.order_by("-sent_at").first().sent_at
    assert session.classification_attempts == 0
    assert CompanionMemory.objects.count() == 0
    assert dreaming_sweep_one(now=now + timedelta(days=1), chat_model=model) is None
    assert model.calls == 1


@pytest.mark.django_db
def test_provider_failures_back_off_then_give_up(alice, now, idle_at, settings):
    settings.DREAMING_MAX_ATTEMPTS = 3
    settings.DREAMING_TICK_SECS = 300
    session = conversation(alice, lines=["I live in Lisbon.", "Nice!"], at=idle_at)
    model = FakeChatModel(fail_on=range(1, 100))
    t = now
    for attempt in (1, 2):
        outcome = dreaming_sweep_one(now=t, chat_model=model)
        assert (outcome.status, outcome.attempts) == ("retry", attempt)
        session.refresh_from_db()
        backoff = timedelta(seconds=dreaming_backoff_secs(attempt))
        assert backoff == timedelta(seconds=300 * 2 ** (attempt - 1))
        assert session.classification_attempts == attempt
        assert session.classification_claimed_at is None and session.classified_at is None
        assert session.next_classification_at == t + backoff
        assert dreaming_sweep_one(now=t + backoff - timedelta(seconds=1), chat_model=model) is None
        t += backoff
    outcome = dreaming_sweep_one(now=t, chat_model=model)
    assert (outcome.status, outcome.attempts) == ("given_up", 3)
    session.refresh_from_db()
    assert session.classified_at == session.messages.order_by("-sent_at").first().sent_at
    assert session.classification_attempts == 0 and session.next_classification_at is None
    assert dreaming_sweep_one(now=t + timedelta(days=1), chat_model=model) is None
    assert model.calls == 3
    assert CompanionMemory.objects.count() == 0


@pytest.mark.django_db
def test_an_embedding_failure_is_retried_like_a_provider_failure(alice, now, idle_at, offline):
    session = conversation(alice, lines=["I live in Lisbon.", "Nice!"], at=idle_at)
    embedder = FakeEmbedder()
    embedder.fail_next()
    assert dreaming_sweep_one(now=now, chat_model=offline, embedder=embedder).status == "retry"
    session.refresh_from_db()
    assert session.classification_attempts == 1 and session.classified_at is None
    later = session.next_classification_at
    outcome = dreaming_sweep_one(now=later, chat_model=offline, embedder=embedder)
    assert outcome.status == "distilled" and outcome.created == 1
    session.refresh_from_db()
    assert session.classification_attempts == 0


@pytest.mark.django_db
def test_at_most_ten_candidates_are_kept_with_categories_normalised(alice, now, idle_at):
    session = conversation(alice, lines=["hello there", "hi"], at=idle_at)
    user_id = str(session.messages.get(role="user").id)
    memories = [
        {"content": f"Collects stamp series {i}", "category": "Hobby" if i == 0 else "EVENT"}
        for i in range(12)
    ]
    memories[1]["source_message_ids"] = [str(uuid.uuid4())]  # not in the batch: dropped
    model = FakeChatModel([json.dumps({"memories": memories})])
    embedder = FakeEmbedder({m["content"]: 300 + i for i, m in enumerate(memories)})
    outcome = dreaming_sweep_one(now=now, chat_model=model, embedder=embedder)
    assert outcome.created == 10
    rows = {m.content: m for m in CompanionMemory.objects.all()}
    assert len(rows) == 10
    assert rows["Collects stamp series 0"].category == "fact"
    assert {m.category for c, m in rows.items() if c != "Collects stamp series 0"} == {"event"}
    # Without a valid citation a memory cites the batch's user messages.
    assert all(str(m.source_message_ids[0]) == user_id for m in rows.values())


@pytest.mark.django_db
def test_a_distilled_near_duplicate_merges_into_the_existing_memory(alice, now, idle_at, offline):
    first = conversation(alice, lines=["I live in Lisbon.", "Nice!"], at=idle_at)
    second = conversation(
        alice, lines=["I live in Lisbon.", "Still?"], at=idle_at + timedelta(minutes=1)
    )
    assert dreaming_sweep_one(now=now, chat_model=offline).created == 1
    outcome = dreaming_sweep_one(now=now, chat_model=offline)
    assert (outcome.created, outcome.merged) == (0, 1)
    memory = CompanionMemory.objects.get()
    sources = [s.messages.get(role="user").id for s in (first, second)]
    assert memory.source_message_ids == sources


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the sweeper catches it."""


def in_thread(target):
    """Run ``target`` in a thread with its own database connection; return what it returned."""
    box: dict = {}

    def run():
        try:
            box["value"] = target()
        except BaseException as exc:  # noqa: BLE001 - hand the crash to the test
            box["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


@pytest.mark.django_db(transaction=True)
def test_a_sweeper_killed_mid_session_leaves_it_claimable_after_the_stale_window(
    alice, now, idle_at, offline, settings
):
    settings.DREAMING_CLAIM_STALE_SECS = 600
    session = conversation(alice, lines=["I live in Lisbon.", "Nice!"], at=idle_at)

    def dies(request):
        raise Killed

    thread, box = in_thread(lambda: dreaming_sweep_one(now=now, chat_model=FakeChatModel(dies)))
    thread.join(30)
    assert isinstance(box.get("error"), Killed)
    session.refresh_from_db()
    assert session.classification_claimed_at == now and session.classified_at is None
    assert CompanionMemory.objects.count() == 0
    assert dreaming_sweep_one(now=now + timedelta(seconds=599), chat_model=offline) is None
    outcome = dreaming_sweep_one(now=now + timedelta(seconds=601), chat_model=offline)
    assert outcome.session_id == session.id and outcome.status == "distilled"
    assert CompanionMemory.objects.count() == 1
    session.refresh_from_db()
    assert session.classification_claimed_at is None and session.classified_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_sweeper_that_outlives_its_claim_writes_nothing(alice, now, idle_at, offline, settings):
    settings.DREAMING_CLAIM_STALE_SECS = 600
    session = conversation(alice, lines=["I live in Lisbon.", "Nice!"], at=idle_at)
    claimed, resume = threading.Event(), threading.Event()

    def slow(request):
        claimed.set()
        assert resume.wait(30)
        return offline.complete(request).text

    thread, box = in_thread(lambda: dreaming_sweep_one(now=now, chat_model=FakeChatModel(slow)))
    assert claimed.wait(30)
    # The slow sweeper's claim goes stale; another sweeper claims and distils the session.
    other = dreaming_sweep_one(now=now + timedelta(seconds=700), chat_model=offline)
    assert other.session_id == session.id and other.created == 1
    resume.set()
    thread.join(30)
    assert box["value"].status == "lost_claim"
    assert CompanionMemory.objects.count() == 1
    session.refresh_from_db()
    assert session.classification_claimed_at is None


@pytest.mark.django_db(transaction=True)
def test_four_sweepers_classify_two_hundred_sessions_exactly_once(now, idle_at):
    users = [uuid.uuid4() for _ in range(50)]
    sessions: dict[uuid.UUID, ChatSession] = {}
    for u, user in enumerate(users):
        for j, hobby in enumerate(HOBBIES):
            lines = [f"I live in {CITIES[u % len(CITIES)]}.", "Nice!", f"I love {hobby}.", "Cool!"]
            session = conversation(user, lines=lines, at=idle_at - timedelta(seconds=u * 4 + j))
            sessions[session.id] = session
    model = RecordingChatModel(OfflineChatModel())
    start = threading.Barrier(4)
    outcomes: list = []

    def sweeper():
        start.wait(30)
        return dreaming_sweep(
            max_items=1000, max_seconds=120, now=now, chat_model=model, on_outcome=outcomes.append
        )

    threads = [in_thread(sweeper) for _ in range(4)]
    for thread, _ in threads:
        thread.join(120)
    counts = [box["value"] for _, box in threads]
    assert sum(counts) == 200 and min(counts) > 0
    assert sorted(o.session_id for o in outcomes) == sorted(sessions)
    assert {o.status for o in outcomes} == {"distilled"}

    # Each session's messages went to the model exactly once.
    batches = sorted(tuple(sent_ids(r)) for r in model.requests)
    expected = sorted(
        tuple(str(i) for i in s.messages.order_by("sent_at").values_list("id", flat=True))
        for s in sessions.values()
    )
    assert batches == expected
    assert ChatSession.objects.filter(classified_at__isnull=True).count() == 0
    assert ChatSession.objects.filter(classification_claimed_at__isnull=False).count() == 0

    # One city fact (merged from four sessions) and four hobbies per user, no duplicates.
    assert CompanionMemory.objects.count() == 50 * 5
    for user in users:
        rows = CompanionMemory.objects.filter(user_id=user)
        assert sorted(rows.values_list("category", flat=True)) == ["fact"] + ["preference"] * 4
        fact = rows.get(category="fact")
        assert len(fact.source_message_ids) == 4
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM companion_memories a JOIN companion_memories b
              ON a.user_id = b.user_id AND a.id < b.id AND a.category = b.category
             AND 1 - (a.embedding <=> b.embedding) >= 0.92
            """
        )
        assert cursor.fetchone()[0] == 0
    assert sum(o.created for o in outcomes) == 250
    assert sum(o.merged for o in outcomes) == 150


@pytest.mark.django_db
def test_dreaming_command_once_reports_each_session(alice, idle_at, settings):
    settings.EROS_CHAT_MODEL = OfflineChatModel()
    session = conversation(alice, lines=["I live in Lisbon.", "Nice!"], at=idle_at)
    out = StringIO()
    call_command("dreaming", "--once", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert f"{session.id}" in text and "distilled" in text
    assert "1 session(s)" in text
    assert CompanionMemory.objects.count() == 1
    again = StringIO()
    call_command("dreaming", "--once", stdout=again, stderr=StringIO())
    assert "0 session(s)" in again.getvalue()


@pytest.mark.django_db
def test_the_schedule_follows_the_settings(settings):
    from django_q.models import Schedule

    settings.DREAMING_DISABLED = False
    settings.DREAMING_TICK_SECS = 150
    assert dreaming_schedule_ensure() == "(every 3 min)"
    schedule = Schedule.objects.get(name="eros-dreaming")
    assert (schedule.func, schedule.minutes) == ("companions.tasks.dreaming_tick", 3)
    settings.DREAMING_TICK_SECS = 0
    assert dreaming_schedule_ensure() == "(dreaming disabled)"
    assert not Schedule.objects.filter(name="eros-dreaming").exists()


@pytest.mark.django_db
def test_one_sweep_claims_one_session_even_when_the_planner_rescans_the_claim(
    alice, now, idle_at, offline
):
    """Small tables lead PostgreSQL to a nested loop that rescans the claim's subquery once per
    session; forced here, it must still claim (and leave claimed) nothing but the session it
    distils."""
    conversation(alice, lines=["I live in Lisbon.", "Nice!"], at=idle_at)
    conversation(alice, lines=["I live in Porto.", "Oh?"], at=idle_at + timedelta(minutes=1))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chat_sessions; ANALYZE chat_messages")
        for switch in ("material", "hashjoin", "mergejoin", "hashagg", "sort"):
            cursor.execute(f"SET LOCAL enable_{switch} = off")
    assert dreaming_sweep_one(now=now, chat_model=offline).status == "distilled"
    assert not ChatSession.objects.filter(classification_claimed_at__isnull=False).exists()
    assert dreaming_sweep_one(now=now, chat_model=offline).status == "distilled"
    assert dreaming_sweep_one(now=now, chat_model=offline) is None
