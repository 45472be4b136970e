"""Near-duplicate merging on memory writes (DESIGN §5, §7), with exact unit vectors."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from companions.models import ChatMessage, ChatSession
from companions.services.post_process import memory_write_turn
from eros.llm.fakes import FakeEmbedder
from memory.models import CompanionMemory
from memory.services.writes import MemoryDraft, memory_upsert_many


def near(seed: int, other: int, cosine: float) -> list[float]:
    vector = [0.0] * 512
    vector[seed] = cosine
    vector[other] = math.sqrt(1.0 - cosine * cosine)
    return vector


def draft(session, content, vector, *, layer="profile", category="fact", sources=(), **extra):
    return MemoryDraft(
        session_id=session.id,
        user_id=session.user_id,
        instance_id=session.instance_id if layer == "relationship" else None,
        content=content,
        embedding=vector,
        category=category,
        source_message_ids=tuple(sources),
        **extra,
    )


@pytest.mark.django_db
def test_a_near_duplicate_updates_the_existing_memory(session):
    first_source, second_source = uuid.uuid4(), uuid.uuid4()
    before = timezone.now() - timedelta(days=3)
    (old,) = memory_upsert_many(
        [draft(session, "Lives in Lisbon", near(1, 2, 1.0), sources=[first_source])]
    )
    CompanionMemory.objects.filter(id=old.memory.id).update(updated_at=before, created_at=before)
    (write,) = memory_upsert_many(
        [draft(session, "Lives in Lisbon, Portugal", near(1, 2, 0.93), sources=[second_source])]
    )
    assert write.created is False and write.memory.id == old.memory.id
    row = CompanionMemory.objects.get()
    assert row.content == "Lives in Lisbon, Portugal"
    assert row.source_message_ids == [first_source, second_source]
    assert list(row.embedding) == pytest.approx(near(1, 2, 0.93))
    assert row.updated_at > before and row.created_at == before


@pytest.mark.django_db
def test_below_the_threshold_a_new_memory_is_added(session):
    memory_upsert_many([draft(session, "Lives in Lisbon", near(1, 2, 1.0))])
    (write,) = memory_upsert_many([draft(session, "Lives near Lisbon", near(1, 2, 0.91))])
    assert write.created is True
    assert CompanionMemory.objects.count() == 2


@pytest.mark.django_db
def test_the_threshold_is_a_setting(session, settings):
    settings.DEDUP_SIMILARITY = 0.9
    memory_upsert_many([draft(session, "Has a sister in Lyon", near(1, 2, 1.0))])
    (write,) = memory_upsert_many([draft(session, "Has a sister near Lyon", near(1, 2, 0.91))])
    assert write.created is False


@pytest.mark.django_db
def test_only_the_same_user_layer_instance_and_category_merge(session, bob):
    vector = near(1, 2, 1.0)
    memory_upsert_many([draft(session, "original", vector, sources=[uuid.uuid4()])])
    other_user = ChatSession.objects.create(user_id=bob, instance_id=session.instance_id)
    other_instance = ChatSession.objects.create(user_id=session.user_id, instance_id=uuid.uuid4())
    writes = memory_upsert_many(
        [
            draft(session, "other category", vector, category="preference"),
            draft(session, "raw row", vector, category=None),
            draft(session, "relationship", vector, layer="relationship"),
            draft(other_instance, "other instance", vector, layer="relationship"),
            draft(other_user, "other user", vector),
        ]
    )
    assert [w.created for w in writes] == [True] * 5
    assert CompanionMemory.objects.count() == 6
    # Each of those now has its own twin.
    again = memory_upsert_many(
        [
            draft(session, "relationship again", vector, layer="relationship"),
            draft(session, "raw again", vector, category=None),
        ]
    )
    assert [w.created for w in again] == [False, False]
    assert CompanionMemory.objects.count() == 6


@pytest.mark.django_db
def test_a_soft_deleted_memory_is_not_revived_by_a_duplicate(session):
    (old,) = memory_upsert_many([draft(session, "Lives in Lisbon", near(1, 2, 1.0))])
    CompanionMemory.objects.filter(id=old.memory.id).update(deleted_at=timezone.now())
    (write,) = memory_upsert_many([draft(session, "Lives in Lisbon", near(1, 2, 1.0))])
    assert write.created is True
    assert CompanionMemory.objects.filter(deleted_at__isnull=True).count() == 1


@pytest.mark.django_db
def test_duplicates_within_one_batch_merge_into_the_nearest(session):
    a, b = uuid.uuid4(), uuid.uuid4()
    memory_upsert_many([draft(session, "far", near(1, 3, 0.95))])
    writes = memory_upsert_many(
        [
            draft(session, "first", near(1, 2, 1.0), sources=[a]),
            draft(session, "second", near(1, 2, 0.99), sources=[b, a]),
        ]
    )
    # "first" merges into "far" (0.95); "second" is nearer to the merged row (now "first").
    assert [w.created for w in writes] == [False, False]
    row = CompanionMemory.objects.get()
    assert row.content == "second" and row.source_message_ids == [a, b]


def _replied_turn(session, user_text, reply_text, *, at):
    user = ChatMessage.objects.create(
        session=session,
        role=ChatMessage.ROLE_USER,
        content=user_text,
        sent_at=at,
        turn_status=ChatMessage.TURN_REPLIED,
    )
    reply = ChatMessage.objects.create(
        session=session,
        role=ChatMessage.ROLE_ASSISTANT,
        content=reply_text,
        sent_at=at + timedelta(seconds=2),
        reply_to_id=user.id,
    )
    return user, reply


@pytest.mark.django_db
def test_a_repeated_turn_merges_into_the_memory_it_repeats(session):
    now = timezone.now()
    embedder = FakeEmbedder({"Likes green tea": 7})
    first, first_reply = _replied_turn(session, "I love green tea", "Noted!", at=now)
    second, second_reply = _replied_turn(
        session, "I love green tea", "Noted!", at=now + timedelta(minutes=5)
    )
    assert len(memory_write_turn(user_message_id=first.id, embedder=embedder)) == 1
    rows = memory_write_turn(user_message_id=second.id, embedder=embedder)
    assert len(rows) == 1
    # A fact, not the line: one profile memory, no transcript row in either layer.
    (profile,) = CompanionMemory.objects.all()
    assert profile.instance_id is None
    assert (profile.content, profile.category) == ("Likes green tea", "preference")
    assert profile.source_message_ids == [first.id, first_reply.id, second.id, second_reply.id]
    assert profile.occurred_at == first.sent_at  # event time of the first mention stays
    # Idempotent: the task re-delivered writes nothing new.
    assert memory_write_turn(user_message_id=second.id, embedder=embedder) == []
    assert CompanionMemory.objects.count() == 1


@pytest.mark.django_db
def test_a_turn_repeating_another_sessions_memory_merges_across_sessions(session):
    other = ChatSession.objects.create(user_id=session.user_id, instance_id=uuid.uuid4())
    embedder = FakeEmbedder({"Lives in Porto": 9})
    now = timezone.now()
    first, first_reply = _replied_turn(other, "I live in Porto", "Lovely.", at=now)
    second, second_reply = _replied_turn(
        session, "I live in Porto", "Oh nice!", at=now + timedelta(days=1)
    )
    memory_write_turn(user_message_id=first.id, embedder=embedder)
    memory_write_turn(user_message_id=second.id, embedder=embedder)
    profile = CompanionMemory.objects.get(instance_id__isnull=True)
    assert profile.content == "Lives in Porto" and profile.slot == "city"
    assert profile.source_message_ids == [first.id, first_reply.id, second.id, second_reply.id]
    assert profile.session_id == other.id
    # Nothing was shared worth a callback: no relationship rows.
    assert not CompanionMemory.objects.filter(instance_id__isnull=False).exists()
    assert memory_write_turn(user_message_id=second.id, embedder=embedder) == []
