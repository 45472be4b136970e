"""Per-turn recall with orthogonal unit vectors (reference eros-engine-server.md §9.3, §9.8)."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from companions.models import ChatSession
from companions.scopes import resolve_memory_scope
from memory.models import CompanionMemory
from memory.selectors import memory_recall, memory_search, query_terms
from memory.services import memory_soft_delete


def unit(seed: int, dim: int = 512) -> list[float]:
    vector = [0.0] * dim
    vector[seed % dim] = 1.0
    return vector


@pytest.fixture(autouse=True)
def cosine_order_and_plain_rrf(settings):
    """These tests pin cosine scores and plain RRF; test_ranking.py covers the defaults."""
    settings.RECENCY_WEIGHT = 0.0
    settings.IMPORTANCE_WEIGHT = 0.0
    settings.HYBRID_FUSION = "rrf"
    settings.HYBRID_TEXT_WEIGHT = 1.0


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
    # Most rows here are raw (no category): the ranking is what these tests pin.
    kwargs.setdefault("raw", True)
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


@pytest.mark.django_db
def test_a_query_asking_about_now_weighs_recency_by_the_now_weight(session, settings):
    # The newer memory is a little less similar: cosine 0.9 against 1.0.
    now = timezone.now()
    put_vector(session, "cello", unit(9), occurred_at=now - timedelta(days=60))
    put_vector(session, "ukulele", mix(9, 10, 0.9), occurred_at=now - timedelta(days=1))
    settings.RECENCY_WEIGHT, settings.RECENCY_WEIGHT_NOW = 0.05, 0.5
    settings.RECENCY_TAU_DAYS = 90.0

    def order(text):
        hits = recall(session, 9, query_text=text, hybrid=False).profile_groups[0][1]
        return [h.content for h in hits]

    assert order("What instrument do I play?") == ["cello", "ukulele"]
    assert order("What instrument do I play these days?") == ["ukulele", "cello"]
    # 0.9 + 0.5·e^(−1/90) against 1.0 + 0.5·e^(−60/90).
    scores = [
        h.score
        for h in recall(session, 9, query_text="still playing?", hybrid=False).profile_groups[0][1]
    ]
    assert scores == pytest.approx(
        [0.9 + 0.5 * math.exp(-1 / 90), 1.0 + 0.5 * math.exp(-60 / 90)], abs=1e-3
    )
    settings.RECENCY_WEIGHT_NOW = 0.0
    assert order("What instrument do I play these days?") == ["cello", "ukulele"]


def mix(seed: int, other: int, cosine: float) -> list[float]:
    """A unit vector with cosine ``cosine`` to ``unit(seed)`` (the rest along ``unit(other)``)."""
    vector = [0.0] * 512
    vector[seed] = cosine
    vector[other] = math.sqrt(1.0 - cosine * cosine)
    return vector


def put_vector(session, content, vector, *, layer="profile", category=None, **extra):
    return CompanionMemory.objects.create(
        session=session,
        user_id=session.user_id,
        instance_id=session.instance_id if layer == "relationship" else None,
        content=content,
        embedding=vector,
        category=category,
        **extra,
    )


@pytest.fixture
def decoys_and_lighthouse(session):
    for i, cosine in enumerate((0.9, 0.8, 0.7, 0.6)):
        put_vector(
            session, f"a quiet evening number {i}", mix(1, 100 + i, cosine), layer="relationship"
        )
    return put(session, "We talked about the lighthouse at Cabo da Roca", 50, layer="relationship")


@pytest.mark.django_db
def test_without_hybrid_recall_the_nearest_vectors_win(session, decoys_and_lighthouse):
    result = recall(session, 1, query_text="the lighthouse", hybrid=False)
    assert [round(h.similarity, 6) for h in result.relationship] == [0.9, 0.8, 0.7]
    assert [h.score for h in result.relationship] == pytest.approx([0.9, 0.8, 0.7])
    assert all(h.text_rank == 0.0 for h in result.relationship)


@pytest.mark.django_db
def test_hybrid_recall_fuses_text_rank_and_vector_rank(session, decoys_and_lighthouse, settings):
    settings.HYBRID_RRF_K = 60
    result = recall(session, 1, query_text="Remember the lighthouse?")
    contents = [h.content for h in result.relationship]
    assert contents == [
        "We talked about the lighthouse at Cabo da Roca",
        "a quiet evening number 0",
        "a quiet evening number 1",
    ]
    # The lighthouse is 5th by vector and 1st (only hit) by text; the decoys have no text term.
    assert [h.score for h in result.relationship] == pytest.approx(
        [1 / 65 + 1 / 61, 1 / 61, 1 / 62]
    )
    assert result.relationship[0].similarity == pytest.approx(0.0)
    assert result.relationship[0].text_rank > 0.0


@pytest.mark.django_db
def test_hybrid_recall_is_the_default_and_can_be_switched_off(
    session, decoys_and_lighthouse, settings
):
    settings.HYBRID_RECALL = True
    assert (
        recall(session, 1, query_text="lighthouse").relationship[0].content.startswith("We talked")
    )
    settings.HYBRID_RECALL = False
    assert recall(session, 1, query_text="lighthouse").relationship[0].similarity == pytest.approx(
        0.9
    )


@pytest.mark.django_db
def test_the_rrf_constant_sets_how_much_one_text_hit_weighs(
    session, decoys_and_lighthouse, settings
):
    settings.HYBRID_RRF_K = 1
    # 1/(1+5) + 1/(1+1) = 0.667 beats 1/(1+1) = 0.5: still first, with the new constant's scores.
    hits = recall(session, 1, query_text="lighthouse").relationship
    assert [h.score for h in hits] == pytest.approx([1 / 6 + 1 / 2, 1 / 2, 1 / 3])


@pytest.mark.django_db
def test_a_query_of_stopwords_only_falls_back_to_vector_order(session, decoys_and_lighthouse):
    hits = recall(session, 1, query_text="what about the").relationship
    assert [h.score for h in hits] == pytest.approx([0.9, 0.8, 0.7])


@pytest.mark.django_db
def test_more_matching_terms_rank_higher_in_the_text_list(session):
    put_vector(session, "nothing in common", mix(1, 20, 0.9), layer="relationship")
    one = put_vector(session, "we went hiking", mix(1, 21, 0.5), layer="relationship")
    two = put_vector(session, "hiking near the lake", mix(1, 22, 0.4), layer="relationship")
    hits = recall(session, 1, query_text="hiking lake").relationship
    assert [h.id for h in hits[:2]] == [two.id, one.id]
    assert hits[0].text_rank > hits[1].text_rank > 0.0 == hits[2].text_rank
    # Vector ranks 3 and 2, text ranks 1 and 2.
    assert [h.score for h in hits] == pytest.approx([1 / 63 + 1 / 61, 2 / 62, 1 / 61])


@pytest.mark.django_db
def test_a_word_every_memory_shares_barely_counts(session):
    put_vector(session, "Mara: long shift again", mix(1, 30, 0.9), layer="relationship")
    put_vector(session, "Mara: first cello lesson", mix(1, 31, 0.8), layer="relationship")
    put_vector(session, "Mara: walked the dog", mix(1, 32, 0.1), layer="relationship")
    hits = recall(session, 1, query_text="Mara's dog?").relationship
    common = math.log(1 + 0.5 / 3.5)  # "mara": in all 3 rows
    rare = math.log(1 + 2.5 / 1.5)  # "dog": in 1 row
    assert {h.content: round(h.text_rank, 6) for h in hits} == {
        "Mara: long shift again": round(common, 6),
        "Mara: first cello lesson": round(common, 6),
        "Mara: walked the dog": round(common + rare, 6),
    }
    # Vector ranks 1, 3, 2 and text ranks 2, 1, 3 (ties in text go to the better vector).
    assert [h.content for h in hits] == [
        "Mara: long shift again",
        "Mara: walked the dog",
        "Mara: first cello lesson",
    ]
    assert [h.score for h in hits] == pytest.approx(
        [1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62 + 1 / 63]
    )


@pytest.mark.django_db
def test_hybrid_fusion_ranks_within_each_profile_category(session):
    put_vector(session, "drinks green tea", mix(1, 200, 0.9), category="preference")
    put_vector(session, "likes jazz", mix(1, 201, 0.8), category="preference")
    put(session, "hates the smell of coffee", 60, category="preference")
    put_vector(session, "lives in Porto", mix(1, 202, 0.5), category="fact")
    put(session, "has a coffee machine at work", 61, category="fact")
    groups = dict(recall(session, 1, query_text="coffee").profile_groups)
    assert [h.content for h in groups["preference"]] == [
        "hates the smell of coffee",
        "drinks green tea",
    ]
    assert [h.content for h in groups["fact"]] == ["has a coffee machine at work", "lives in Porto"]
    # The coffee fact is 2nd of 2 by vector in its category and 1st by text.
    assert groups["fact"][0].score == pytest.approx(1 / 62 + 1 / 61)


@pytest.mark.django_db
def test_recall_is_one_query(session, django_assert_num_queries):
    put(session, "profile fact", 3, category="fact")
    put(session, "raw", 3)
    put(session, "relationship fact", 3, layer="relationship")
    with django_assert_num_queries(1):
        result = recall(session, 3, query_text="fact")
    assert len(result.all_hits) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scope", "profile", "relationship"),
    [
        ("full", True, True),
        ("neutral_and_relationship", True, True),
        ("relationship_only", False, True),
        ("neutral_only", False, False),
        ("insights_only", False, False),
        ("none", False, False),
    ],
)
def test_memory_scope_gates_each_layer(session, scope, profile, relationship):
    put(session, "profile fact", 3)
    put(session, "relationship fact", 3, layer="relationship")
    gate = resolve_memory_scope(scope)
    result = recall(session, 3, profile=gate.profile, relationship=gate.relationship)
    assert bool(result.profile_groups) is profile
    assert bool(result.relationship) is relationship


@pytest.mark.django_db
def test_relationship_layer_needs_an_instance(session):
    put(session, "relationship fact", 3, layer="relationship")
    result = memory_recall(
        user_id=session.user_id, instance_id=None, query_vector=unit(3), now=timezone.now()
    )
    assert result.is_empty()


@pytest.mark.django_db
def test_a_memory_deleted_by_its_owner_is_never_recalled_again(session):
    gone = put(session, "the lighthouse", 5, layer="relationship")
    put(session, "kept", 6, layer="relationship")
    assert memory_soft_delete(memory_id=gone.id, user_id=session.user_id)
    hits = recall(session, 5, query_text="lighthouse").relationship
    assert [h.content for h in hits] == ["kept"]


@pytest.mark.django_db
def test_importance_weight_lifts_important_memories(session, settings):
    put(session, "minor", 9, importance=0.1)
    put(session, "major", 9, importance=0.9)
    settings.IMPORTANCE_WEIGHT = 0.5
    hits = recall(session, 9).profile_groups[0][1]
    assert [h.content for h in hits] == ["major", "minor"]
    assert [h.score for h in hits] == pytest.approx([1.45, 1.05])


@pytest.mark.django_db
def test_top_k_can_be_overridden_per_call(session):
    for seed in range(100, 112):
        put(session, f"relationship-{seed}", seed, layer="relationship")
    hits = recall(session, 100, k_relationship=10).relationship
    assert len(hits) == 10 and hits[0].content == "relationship-100"


def test_query_terms_are_the_distinct_content_words():
    assert query_terms("Do you remember the Lighthouse? the LIGHTHOUSE at Sintra!") == [
        "remember",
        "lighthouse",
        "sintra",
    ]
    assert query_terms("what about the") == []
    assert query_terms(None) == []
    assert query_terms("it's O'Brien's") == ["o", "brien"]


@pytest.mark.django_db
def test_cross_user_search_returns_the_nearest_live_memories_of_anyone(session, bob):
    other = ChatSession.objects.create(user_id=bob, instance_id=uuid.uuid4())
    put_vector(session, "alice near", mix(1, 40, 0.9))
    put_vector(other, "bob nearer", mix(1, 41, 0.95), layer="relationship")
    put_vector(other, "bob far", mix(1, 42, 0.2))
    put_vector(session, "alice gone", unit(1), deleted_at=timezone.now())
    hits = memory_search(query_vector=unit(1), k=2)
    assert [(h["content"], h["layer"]) for h in hits] == [
        ("bob nearer", "relationship"),
        ("alice near", "profile"),
    ]
    assert [h["similarity"] for h in hits] == pytest.approx([0.95, 0.9])
    assert {"embedding", "content_tsv"}.isdisjoint(hits[0])
