"""Per-turn recall with orthogonal unit vectors (reference eros-engine-server.md §9.3, §9.8)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from companions.models import ChatSession
from memory.models import CompanionMemory
from memory.selectors import memory_recall


def unit(seed: int, dim: int = 512) -> list[float]:
    vector = [0.0] * dim
    vector[seed % dim] = 1.0
    return vector


@pytest.fixture
def session(alice):
    return ChatSession.objects.create(user_id=alice, instance_id=uuid.uuid4())


def put(session, content, seed, *, layer="profile", category=None, **extra):
    return CompanionMemory.objects.create(
        session=session,
        user_id=session.user_id,
        instance_id=session.instance_id if layer == "relationship" else None,
        content=content,
        embedding=unit(seed),
        category=category,
        **extra,
    )


def recall(session, seed, **kwargs):
    return memory_recall(
        user_id=session.user_id,
        instance_id=session.instance_id,
        query_vector=unit(seed),
        now=timezone.now(),
        **kwargs,
    )


@pytest.mark.django_db
def test_empty_database_recalls_nothing(session):
    result = recall(session, 1)
    assert result.profile_groups == [] and result.relationship == []


@pytest.mark.django_db
def test_layers_are_isolated(session):
    put(session, "profile fact", 11)
    put(session, "relationship fact", 11, layer="relationship")
    result = recall(session, 11)
    assert [(c, [h.content for h in hits]) for c, hits in result.profile_groups] == [
        (None, ["profile fact"])
    ]
    assert [h.content for h in result.relationship] == ["relationship fact"]


@pytest.mark.django_db
def test_profile_groups_keep_top_k_per_category_and_drop_raw_rows(session):
    for seed in (10, 50, 100):
        put(session, f"fact-{seed}", seed, category="fact")
    for seed in (10, 200):
        put(session, f"preference-{seed}", seed, category="preference")
    put(session, "event-10", 10, category="event")
    put(session, "emotion-300", 300, category="emotion")
    put(session, "raw-untagged", 10)
    result = recall(session, 10)
    groups = {c: [h.content for h in hits] for c, hits in result.profile_groups}
    assert [c for c, _ in result.profile_groups] == ["emotion", "event", "fact", "preference"]
    assert {c: len(v) for c, v in groups.items()} == {
        "emotion": 1,
        "event": 1,
        "fact": 2,
        "preference": 2,
    }
    assert groups["fact"][0] == "fact-10"
    assert all("raw-untagged" not in v for v in groups.values())


@pytest.mark.django_db
def test_top_k_limits_and_nearest_first(session):
    for seed in range(100, 106):
        put(session, f"profile-{seed}", seed)
    for seed in range(200, 205):
        put(session, f"relationship-{seed}", seed, layer="relationship")
    put(session, "relationship target", 42, layer="relationship")
    result = recall(session, 100)
    ((category, hits),) = result.profile_groups
    assert category is None and len(hits) == 4 and hits[0].content == "profile-100"
    assert hits[0].similarity == pytest.approx(1.0)
    assert len(result.relationship) == 3
    assert recall(session, 42).relationship[0].content == "relationship target"


@pytest.mark.django_db
def test_other_users_and_other_instances_never_surface(session, bob):
    other = ChatSession.objects.create(user_id=bob, instance_id=session.instance_id)
    put(other, "bob's profile", 7)
    put(other, "bob's relationship", 7, layer="relationship")
    sibling = ChatSession.objects.create(user_id=session.user_id, instance_id=uuid.uuid4())
    put(sibling, "another persona's relationship", 7, layer="relationship")
    result = recall(session, 7)
    assert result.is_empty()


@pytest.mark.django_db
def test_soft_deleted_memories_are_never_recalled(session):
    put(session, "forgotten", 5, deleted_at=timezone.now())
    put(session, "kept", 6)
    result = recall(session, 5)
    assert [h.content for _, hits in result.profile_groups for h in hits] == ["kept"]


@pytest.mark.django_db
def test_scope_switches_skip_layers(session):
    put(session, "profile fact", 3)
    put(session, "relationship fact", 3, layer="relationship")
    only_rel = recall(session, 3, profile=False)
    assert only_rel.profile_groups == [] and len(only_rel.relationship) == 1
    assert recall(session, 3, profile=False, relationship=False).is_empty()


@pytest.mark.django_db
def test_recency_weight_reorders_equally_similar_memories(session, settings):
    now = timezone.now()
    old = put(session, "old", 9, occurred_at=now - timedelta(days=300))
    new = put(session, "new", 9, occurred_at=now - timedelta(days=1))
    settings.RECENCY_WEIGHT = 0.0
    tied = recall(session, 9).profile_groups[0][1]
    assert {h.id for h in tied} == {old.id, new.id}
    settings.RECENCY_WEIGHT = 0.5
    ranked = recall(session, 9).profile_groups[0][1]
    assert [h.content for h in ranked] == ["new", "old"]
    assert ranked[0].score > ranked[1].score
