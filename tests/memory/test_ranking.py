"""Recall ranking: BM25 over stemmed words, the fusion of its two halves, recency and
importance (memory.selectors module docstring), with exact numbers worked out by hand."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from memory.importance import clamp_importance, importance_from_cues
from memory.language import text_search_config
from memory.models import CompanionMemory
from memory.selectors import NEUTRAL_IMPORTANCE, Ranking, memory_recall, memory_text_config
from memory.services.dreaming import parse_candidates
from memory.services.writes import MemoryDraft, memory_upsert_many

LN2 = math.log(2)


def unit(seed: int) -> list[float]:
    vector = [0.0] * 512
    vector[seed] = 1.0
    return vector


def mix(seed: int, other: int, cosine: float) -> list[float]:
    vector = [0.0] * 512
    vector[seed] = cosine
    vector[other] = math.sqrt(1.0 - cosine * cosine)
    return vector


def put(session, content, vector, *, ts_config="simple", **extra):
    return CompanionMemory.objects.create(
        session=session,
        user_id=session.user_id,
        instance_id=session.instance_id,
        content=content,
        embedding=vector,
        ts_config=ts_config,
        **extra,
    )


def recall(session, text, vector=None, *, k=10, **ranking):
    return memory_recall(
        user_id=session.user_id,
        instance_id=session.instance_id,
        query_vector=vector or unit(500),
        query_text=text,
        now=timezone.now(),
        profile=False,
        ranking=Ranking.from_settings(**ranking),
        k_relationship=k,
        raw=True,  # the rows here are raw: the ranking is what these tests pin
    ).relationship


@pytest.fixture
def cello_corpus(session):
    # Lengths in lexemes (simple configuration, which keeps every word): 2, 5, 3, 2; avgdl 3.
    return {
        "d1": put(session, "cello cello lesson", unit(1)),
        "d2": put(session, "cello practice tonight at home", unit(2)),
        "d3": put(session, "walked the dog", unit(3)),
        "d4": put(session, "dog park", unit(4)),
    }


@pytest.mark.django_db
def test_bm25_counts_term_frequency_and_normalises_length(session, cello_corpus):
    hits = recall(session, "cello", mode="text", k1=1.2, b=0.75)
    scores = {h.content: h.text_rank for h in hits}
    # "cello" is in 2 of 4 rows: idf = ln(1 + (4 - 2 + 0.5) / (2 + 0.5)) = ln 2.
    # d1: tf 2, dl 2 -> 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 2/3)) = 4.4 / 2.9
    # d2: tf 1, dl 5 -> 1 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 5/3)) = 2.2 / 2.8
    assert scores["cello cello lesson"] == pytest.approx(LN2 * 4.4 / 2.9)
    assert scores["cello practice tonight at home"] == pytest.approx(LN2 * 2.2 / 2.8)
    assert scores["walked the dog"] == scores["dog park"] == 0.0
    assert [h.content for h in hits[:2]] == ["cello cello lesson", "cello practice tonight at home"]
    # In text mode the score is the BM25 score itself.
    assert hits[0].score == pytest.approx(hits[0].text_rank)


@pytest.mark.django_db
def test_bm25_sums_over_query_words_and_b_zero_ignores_length(session, cello_corpus):
    scores = {h.content: h.text_rank for h in recall(session, "cello dog", mode="text")}
    # "dog" is in 2 of 4 rows too (idf ln 2); d3 has the average length: 2.2 / 2.2 = 1.
    assert scores["walked the dog"] == pytest.approx(LN2)
    assert scores["dog park"] == pytest.approx(LN2 * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 3)))
    flat = {h.content: h.text_rank for h in recall(session, "cello", mode="text", b=0.0)}
    assert flat["cello practice tonight at home"] == pytest.approx(LN2)  # 2.2 / (1 + 1.2)
    assert flat["cello cello lesson"] == pytest.approx(LN2 * 4.4 / 3.2)


@pytest.mark.django_db
def test_a_word_in_every_row_weighs_less_than_a_rare_one(session):
    put(session, "Mara long shift", unit(1))
    put(session, "Mara cello lesson", unit(2))
    put(session, "Mara walked dog", unit(3))
    scores = {h.content: h.text_rank for h in recall(session, "Mara's dog?", mode="text")}
    common, rare = math.log(1 + 0.5 / 3.5), math.log(1 + 2.5 / 1.5)
    assert scores["Mara long shift"] == pytest.approx(common)
    assert scores["Mara walked dog"] == pytest.approx(common + rare)


@pytest.mark.django_db
def test_english_rows_are_stemmed_and_simple_rows_are_not(session):
    put(session, "Mara runs along the canal every morning", unit(1), ts_config="english")
    put(session, "Bo runs a bakery", unit(2), ts_config="simple")
    stemmed = {h.content: h.text_rank for h in recall(session, "running", mode="text")}
    assert stemmed["Mara runs along the canal every morning"] > 0.0
    assert stemmed["Bo runs a bakery"] == 0.0
    # The exact word matches both: each row parses the query with its own configuration.
    exact = {h.content: h.text_rank for h in recall(session, "runs", mode="text")}
    assert all(score > 0.0 for score in exact.values())


@pytest.mark.django_db
def test_the_stored_text_vector_follows_the_row_configuration(session):
    english = put(session, "I was running to the lessons", unit(1), ts_config="english")
    simple = put(session, "I was running to the lessons", unit(2))
    rows = dict(
        CompanionMemory.objects.filter(id__in=[english.id, simple.id]).values_list(
            "id", "content_tsv"
        )
    )
    assert rows[english.id] == "'lesson':6 'run':3"
    assert rows[simple.id] == "'i':1 'lessons':6 'running':3 'the':5 'to':4 'was':2"


@pytest.fixture
def two_queries(session):
    """One question only the text half answers, one only the vector half does (k = 3)."""
    for i, cosine in enumerate((0.9, 0.8, 0.7, 0.6)):
        put(session, f"a quiet evening number {i}", mix(1, 100 + i, cosine))
    lighthouse = put(session, "We talked about the lighthouse at Cabo da Roca", unit(50))
    for i in range(3):
        put(session, f"the ferry timetable changed again {i}", mix(7, 110 + i, 0.1 * i))
    ferry = put(session, "she crossed the river every winter", mix(7, 120, 0.95))
    return [
        ("the lighthouse?", unit(1), lighthouse.id),
        ("ferry timetable", unit(7), ferry.id),
    ]


def recall_at_3(session, questions, **ranking) -> float:
    found = 0
    for text, vector, wanted in questions:
        ids = [h.id for h in recall(session, text, vector, k=3, **ranking)]
        found += wanted in ids
    return found / len(questions)


@pytest.mark.django_db
def test_fusion_finds_what_either_half_alone_misses(session, two_queries, settings):
    settings.RECENCY_WEIGHT = settings.IMPORTANCE_WEIGHT = 0.0
    text = recall_at_3(session, two_queries, mode="text")
    vector = recall_at_3(session, two_queries, mode="vector")
    convex = recall_at_3(session, two_queries, mode="fused", fusion="convex", text_weight=1.0)
    rrf = recall_at_3(session, two_queries, mode="fused", fusion="rrf", text_weight=1.0)
    assert (text, vector) == (0.5, 0.5)
    assert convex == 1.0 >= max(text, vector)
    # Plain RRF keeps only ranks: three rows the text half likes push the vector half's one
    # confident hit (cosine 0.95 against at most 0.2) out of the top 3.
    assert rrf == 0.5


@pytest.mark.django_db
def test_convex_fusion_adds_min_max_normalised_halves(session, settings):
    settings.RECENCY_WEIGHT = settings.IMPORTANCE_WEIGHT = 0.0
    near = put(session, "nothing in common", mix(1, 20, 0.9))
    middle = put(session, "we went hiking", mix(1, 21, 0.5))
    far = put(session, "hiking near the lake", mix(1, 22, 0.1))
    hits = recall(session, "hiking lake", unit(1), fusion="convex", text_weight=2.0)
    by_id = {h.id: h for h in hits}
    top_text = by_id[far.id].text_rank
    assert top_text > by_id[middle.id].text_rank > 0.0 == by_id[near.id].text_rank
    # Vector scores 0.9, 0.5, 0.1 -> 1, 0.5, 0; text scores / the best text score.
    assert by_id[near.id].score == pytest.approx(1.0)
    middle_text = by_id[middle.id].text_rank / top_text
    assert by_id[middle.id].score == pytest.approx(0.5 + 2.0 * middle_text)
    assert by_id[far.id].score == pytest.approx(0.0 + 2.0)
    assert [h.id for h in hits] == [far.id, middle.id, near.id]


@pytest.mark.django_db
def test_a_query_without_searchable_words_ranks_by_vector_alone(session):
    put(session, "near", mix(1, 20, 0.9))
    put(session, "far", mix(1, 21, 0.2))
    hits = recall(session, "what about the", unit(1), recency_weight=0.0, importance_weight=0.0)
    assert [h.score for h in hits] == pytest.approx([0.9, 0.2])


@pytest.mark.django_db
def test_recency_in_event_time_is_on_by_default(session, settings):
    assert settings.RECENCY_WEIGHT > 0.0
    now = timezone.now()
    old = put(session, "old", unit(9), occurred_at=now - timedelta(days=300))
    new = put(session, "new", unit(9), occurred_at=now - timedelta(days=2))
    hits = recall(session, None, unit(9))
    assert [h.id for h in hits] == [new.id, old.id]
    tau, weight = settings.RECENCY_TAU_DAYS, settings.RECENCY_WEIGHT
    gap = weight * (math.exp(-2 / tau) - math.exp(-300 / tau))
    assert hits[0].score - hits[1].score == pytest.approx(gap, abs=1e-6)


@pytest.mark.django_db
def test_a_memory_centuries_old_is_recalled_not_an_underflow_error(session, settings):
    # exp(-age/tau) below about -745 raises "value out of range: underflow" in PostgreSQL.
    settings.RECENCY_TAU_DAYS = 1
    now = timezone.now()
    ancient = put(session, "ancient", unit(9), occurred_at=now - timedelta(days=365 * 300))
    new = put(session, "new", unit(9), occurred_at=now)
    hits = recall(session, None, unit(9))
    assert [h.id for h in hits] == [new.id, ancient.id]
    assert hits[1].score == pytest.approx(1.0 + settings.IMPORTANCE_WEIGHT * 0.5, abs=1e-6)


@pytest.mark.django_db
@pytest.mark.parametrize("tiny", [5e-324, 1e-310])
def test_a_subnormal_importance_is_recalled_not_an_underflow_error(session, tiny):
    # Such a row predates the rounding on write (importance * weight underflowed: an error).
    put(session, "tiny", unit(9), importance=tiny)
    (hit,) = recall(session, "tiny", unit(9))
    assert hit.content == "tiny"


def test_importance_is_stored_clamped_and_rounded():
    assert [clamp_importance(v) for v in (5e-324, -0.2, 0.123456, 1.7)] == [0.0, 0.0, 0.1235, 1.0]


@pytest.mark.django_db
def test_importance_ranks_when_set_and_unscored_rows_count_as_neutral(session, settings):
    settings.RECENCY_WEIGHT = 0.0
    settings.IMPORTANCE_WEIGHT = 0.5
    minor = put(session, "minor", unit(9), importance=0.1)
    unscored = put(session, "unscored", unit(9))
    major = put(session, "major", unit(9), importance=0.9)
    hits = recall(session, None, unit(9))
    assert [h.id for h in hits] == [major.id, unscored.id, minor.id]
    assert [h.score for h in hits] == pytest.approx([1.45, 1 + 0.5 * NEUTRAL_IMPORTANCE, 1.05])


@pytest.mark.django_db
def test_fused_recall_is_still_one_query(session, cello_corpus, django_assert_num_queries):
    with django_assert_num_queries(1):
        hits = recall(session, "cello lessons", unit(1))
    assert hits[0].content == "cello cello lesson"


def test_the_ranking_reads_the_settings_and_takes_overrides(settings):
    settings.HYBRID_RECALL = False
    settings.HYBRID_FUSION = "rrf"
    settings.BM25_K1, settings.BM25_B = 0.9, 0.4
    ranking = Ranking.from_settings(text_weight=3.0)
    assert (ranking.mode, ranking.fusion, ranking.k1, ranking.b) == ("vector", "rrf", 0.9, 0.4)
    assert ranking.text_weight == 3.0


def test_the_language_is_detected_or_left_simple():
    assert text_search_config("I have been running along the canal every morning") == "english"
    assert text_search_config("Ich wohne seit drei Jahren in Berlin") == "german"
    assert text_search_config(["Moro em Lisboa", "com o meu cão e a minha irmã"]) == "portuguese"
    assert text_search_config("ok") == "simple"
    assert text_search_config("haha yes!!") == "simple"


@pytest.mark.django_db
def test_a_user_whose_words_cannot_be_told_keeps_their_last_language(session):
    assert memory_text_config(user_id=session.user_id, texts=["ok"]) == "simple"
    put(session, "Went running by the canal", unit(1), ts_config="english")
    put(session, "haha", unit(2))
    assert memory_text_config(user_id=session.user_id, texts=["ok"]) == "english"
    assert memory_text_config(user_id=session.user_id, texts=["Je suis très fatiguée ce soir"]) == (
        "french"
    )


@pytest.mark.django_db
def test_writes_score_importance_by_cues_and_stem_in_the_content_language(session):
    (write,) = memory_upsert_many(
        [
            MemoryDraft(
                session_id=session.id,
                user_id=session.user_id,
                instance_id=None,
                content="Started working as a nurse at the hospital in Lisbon",
                embedding=unit(3),
                category="fact",
            )
        ]
    )
    row = CompanionMemory.objects.get(id=write.memory.id)
    assert row.ts_config == "english"
    assert row.importance == importance_from_cues(row.content, "fact") == 0.8
    assert "'hospit'" in row.content_tsv and "'nurs'" in row.content_tsv


def test_cue_importance_lifts_life_facts_and_sinks_small_talk():
    assert importance_from_cues("Mara: my dog Biscuit is a beagle") == 0.7
    assert importance_from_cues("Juno: haha") == 0.1
    assert importance_from_cues("What do you do when you can't sleep?") == 0.2
    assert importance_from_cues("Lives in Porto", "fact") == 0.7
    assert importance_from_cues("likes jazz", "preference") == 0.4
    assert 0.0 <= importance_from_cues("ok?") <= importance_from_cues("ok") <= 1.0


def test_a_model_importance_is_kept_clamped_or_left_to_the_cues():
    allowed = {str(uuid.UUID(int=1))}
    text = (
        '{"memories": [{"content": "Lives in Porto", "category": "fact", "importance": 0.9},'
        ' {"content": "Had soup", "category": "event", "importance": 7},'
        ' {"content": "Likes tea", "category": "preference", "importance": "high"},'
        ' {"content": "Has a cat", "category": "fact", "importance": true}]}'
    )
    assert [c.importance for c in parse_candidates(text, allowed_ids=allowed)] == [
        0.9,
        1.0,
        None,
        None,
    ]
