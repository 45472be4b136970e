"""Memory reads: per-turn recall from both layers in one round trip (DESIGN §7).

Per-user searches are exact: the partial B-tree indexes narrow to one user's rows and every
ranking runs over all of them (an approximate HNSW scan that filters afterwards can return too
few rows for a single user, and a user's memories are few). The HNSW index serves only
cross-user searches (:func:`memory_search`).

Recall ranks every list (a category of the profile layer, the raw profile rows, or the
relationship rows) by fusing two halves.

**Vector half** (weights 0 give pure cosine order, the reference behaviour of
eros-engine-server.md §6.5)::

    vscore = cosine_similarity + RECENCY_WEIGHT · exp(−age_days / RECENCY_TAU_DAYS)
             + IMPORTANCE_WEIGHT · importance

with age in event time (``occurred_at``) and a row nobody scored counted at
:data:`NEUTRAL_IMPORTANCE` (0.5). A query that asks how things stand now
(:func:`memory.questions.asks_about_now`: "Where am I living at the moment?", "Do I still
play the cello?") weighs recency by ``RECENCY_WEIGHT_NOW`` (0.5) instead, when that is
larger: of "Has started learning the cello" and, weeks later, "Learning the ukulele now
instead", the newer is the answer. Only such queries: a heavier recency for every query costs
recall of facts said long ago (``memory_eval``: 0.665 → 0.626 and 0.600 → 0.538 at 0.5).

**Text half**: Okapi BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25
and Beyond", Foundations and Trends in IR 3(4), 2009, with the non-negative idf of
Lucene's BM25Similarity)::

    bm25 = Σ_t idf(t) · tf(t) · (k1 + 1) / (tf(t) + k1 · (1 − b + b · dl / avgdl))
    idf(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))

over the query's distinct non-stopword words ``t`` (:func:`query_terms`). Each row is stemmed
in its own language: ``content_tsv = to_tsvector(ts_config, content)`` with ``ts_config`` a
PostgreSQL text-search configuration set on write (``memory.language``; ``simple`` when the
language is unknown), and each query word is parsed with each row's configuration, so
"running" finds "runs" in an English row while a ``simple`` row needs the exact word. ``tf`` is
the number of positions of the word's lexeme in the row's ``content_tsv``; ``dl`` is the row's
number of distinct lexemes (``length(content_tsv)``; stopwords of its language excluded),
``avgdl`` its mean, ``N`` the number of rows being recalled (both layers) and ``df`` how many
of them hold the word. k1 = ``BM25_K1`` (1.2) and b = ``BM25_B`` (0.75) are the usual
defaults; memory_eval found recall flat across k1 ∈ [0.6, 2] and b ∈ [0.25, 1].

**Fusion** (``HYBRID_RECALL``, on by default; ``HYBRID_FUSION``):

* ``convex`` (default): a convex combination of min-max normalised scores (Bruch, Gai &
  Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS 42(1), 2023, who
  find it beats RRF and needs one weight tuned on little data)::

      score = (vscore − min vscore) / (max vscore − min vscore)
              + HYBRID_TEXT_WEIGHT · bm25 / max bm25

  minima and maxima taken within the list (the text half's minimum is its floor, 0, so a row
  matching no query word adds nothing). Scores are in [0, 1 + HYBRID_TEXT_WEIGHT].
* ``rrf``: weighted reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009)::

      score = 1 / (HYBRID_RRF_K + vector_rank) + HYBRID_TEXT_WEIGHT / (HYBRID_RRF_K + text_rank)

  with 1-based ranks within the list and no text term for rows matching no query word. Ranks
  alone let several weak matches of one half outvote the other half's one confident hit.

Without hybrid recall, or for a query with no searchable word, ``score = vscore``.

**Pinned**: a memory the user added or edited (``pinned``) is their own word, so within each
list pinned rows come before all others, and ``score`` orders each of the two parts (pinned
among themselves, then the rest). A rule, not a boost: a boost in score units would mean
different things in the convex, RRF and vector modes. Users pin few rows, so the relevant
recalled rows still fill the rest of each list.

**Asked**: a question that asks for a slot (:func:`memory.questions.slots_asked`: "What do I do
for a living?" asks for ``occupation`` and ``workplace``, "What pets do we have?" for every
``pet:`` slot) is answered by the current memory of that slot, whatever words it shares with
the question: "Works as a paramedic" shares none with the first, and an embedder without
semantics sees no likeness either. So within each list, after the pinned rows, the rows whose
``slot`` is asked come next, and ``score`` orders each part. The same kind of rule as pinned:
``ORDER BY pinned, asked, score``. A slot has one current value (held by a row or two), so an
asked slot lifts few rows and the rest of each list is ranked as before; a query that asks for
no slot (most turns) is ranked exactly as before. Superseded rows answer nothing: recalled
with ``superseded``, they never count as asked.

The defaults (convex, text weight 1, recency 0.05 over 90 days, importance 0.5) were chosen
with ``manage.py memory_eval`` (README, "Memory"): on both evaluation files the fused order
recalls more than either half alone. Soft-deleted rows never surface.

Cost: one index-driven pass over the user's rows (both layers); only rows holding a query
word are unnested for term frequencies; then sorts of narrow rows; contents are read for the
winners only. Measured with ``manage.py benchmark recall``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, FloatField, TextField, Value
from django.db.models.functions import Cast
from pgvector.django import CosineDistance

from eros.errors import Upstream
from eros.llm.base import Embedder, ProviderError
from eros.llm.cleaning import format_vector
from eros.llm.embeddings_local import STOPWORDS
from eros.llm.providers import get_embedder
from memory.embedding_dim import embedding_dim_guard
from memory.language import FALLBACK_CONFIG, text_search_config
from memory.models import LAYER_PROFILE, LAYER_RELATIONSHIP, CompanionMemory
from memory.questions import asks_about_now, is_prefix, slots_asked

#: At most this many distinct terms of a query are searched as text.
MAX_QUERY_TERMS = 32

# Letters and digits: PostgreSQL's text-search parser also splits words at "_".
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class MemoryHit:
    """A recalled memory.

    ``similarity``: cosine similarity in [-1, 1]. ``score``: the ranking score (the fused
    score with hybrid recall, the BM25 score in text mode, else the vector score; module
    docstring). ``text_rank``: the memory's BM25 score (≥ 0), 0.0 when no query word matched
    or text search was off. ``pinned``: the user wrote or edited it (ranked first).
    ``asked``: the query asks for its slot (``memory.questions``; ranked next).
    """

    id: uuid.UUID
    content: str
    category: str | None
    similarity: float
    score: float
    occurred_at: datetime
    source_message_ids: tuple[uuid.UUID, ...]
    text_rank: float = 0.0
    pinned: bool = False
    asked: bool = False


@dataclass(frozen=True)
class Recall:
    """Profile-layer groups (category → hits; ``None`` = raw rows) and relationship hits."""

    profile_groups: list[tuple[str | None, list[MemoryHit]]] = field(default_factory=list)
    relationship: list[MemoryHit] = field(default_factory=list)

    @property
    def all_hits(self) -> list[MemoryHit]:
        return [h for _, hits in self.profile_groups for h in hits] + self.relationship

    def is_empty(self) -> bool:
        return not self.profile_groups and not self.relationship


def query_terms(text: str | None) -> list[str]:
    """The distinct non-stopword words of ``text``, in order of first appearance.

    Words are runs of letters and digits of the NFKC-normalised, lower-cased text, close to
    the lexemes PostgreSQL's ``simple`` configuration makes (and safe to quote in a
    ``tsquery``); at most :data:`MAX_QUERY_TERMS`.
    """
    if not text:
        return []
    words = _WORD.findall(unicodedata.normalize("NFKC", text).lower())
    return [w for w in dict.fromkeys(words) if w not in STOPWORDS][:MAX_QUERY_TERMS]


_RECALL_SQL = """
WITH cand AS MATERIALIZED (
    -- One pass over the user's rows, keeping only what ranking needs; MATERIALIZED so each
    -- vector is compared once. Contents are fetched for the winners only (last step).
    SELECT CASE WHEN m.instance_id IS NOT NULL THEN 'relationship'
                WHEN m.category IS NOT NULL THEN 'grouped' ELSE 'raw' END AS part,
           CASE WHEN m.instance_id IS NULL THEN m.category END AS grp,
           m.id,
           1 - (m.embedding <=> %(q)s::vector) AS similarity,
           m.occurred_at,
           -- A subnormal importance times the weight would underflow, which PostgreSQL
           -- reports as an error: below 1e-9 counts as 0 (writes round to 4 decimals anyway).
           (CASE WHEN m.importance < 1e-9 THEN 0
                 ELSE coalesce(m.importance, %(neutral)s) END)::float8 AS importance,
           m.ts_config AS cfg,
           m.pinned,
           -- The question asks for this row's slot (memory.questions): an exact key, or a
           -- prefix (^@: starts with). Only a current value answers it.
           (m.slot IS NOT NULL AND m.valid_to IS NULL
            AND (m.slot = ANY(%(asked)s::text[]) OR m.slot ^@ ANY(%(asked_prefixes)s::text[])))
           AS asked,
           CASE WHEN %(text)s THEN m.content_tsv END AS tsv
    FROM companion_memories m
    WHERE m.user_id = %(user)s AND m.deleted_at IS NULL
      AND (%(superseded)s OR m.valid_to IS NULL)
      AND (%(raw)s OR m.category IS NOT NULL)
      AND ((%(profile)s AND m.instance_id IS NULL)
           OR (%(relationship)s AND m.instance_id = %(instance)s))
),
qlex AS MATERIALIZED (
    -- Each query word parsed by each configuration the user's rows use (a word that is a
    -- stopword there has no lexeme), so a row is matched in its own language.
    SELECT g.cfg, t.n, l.lexeme
    FROM (SELECT DISTINCT cfg FROM cand WHERE %(text)s) g
         CROSS JOIN unnest(%(terms)s::text[]) WITH ORDINALITY AS t(term, n)
         CROSS JOIN LATERAL unnest(to_tsvector(g.cfg, t.term)) AS l
),
qtq AS MATERIALIZED (
    -- Lexemes are runs of letters and digits (query_terms), safe to quote into a tsquery.
    SELECT cfg, string_agg(DISTINCT quote_literal(lexeme), ' | ')::tsquery AS tq
    FROM qlex GROUP BY cfg
),
tf AS MATERIALIZED (
    -- Term frequency (positions of the lexeme) and length (lexemes) of each matching row.
    SELECT c.id, q.n, length(c.tsv)::float8 AS dl,
           sum(coalesce(array_length(u.positions, 1), 1))::float8 AS tf
    FROM cand c
         JOIN qtq ON qtq.cfg = c.cfg AND c.tsv @@ qtq.tq
         CROSS JOIN LATERAL unnest(c.tsv) AS u
         JOIN qlex q ON q.cfg = c.cfg AND q.lexeme = u.lexeme
    GROUP BY c.id, q.n, c.tsv
),
stats AS MATERIALIZED (
    SELECT count(*)::float8 AS docs, greatest(avg(length(tsv)), 1)::float8 AS avgdl
    FROM cand WHERE %(text)s
),
idf AS MATERIALIZED (
    SELECT tf.n, ln(1 + (s.docs - count(*) + 0.5) / (count(*) + 0.5)) AS w
    FROM tf CROSS JOIN stats s GROUP BY tf.n, s.docs
),
bm AS MATERIALIZED (
    SELECT tf.id,
           sum(i.w * tf.tf * (%(k1)s::float8 + 1)
               / (tf.tf + %(k1)s::float8 * (1 - %(b)s::float8 + %(b)s::float8 * tf.dl / s.avgdl)))
           AS bm25
    FROM tf JOIN idf i ON i.n = tf.n CROSS JOIN stats s
    GROUP BY tf.id
),
scored AS MATERIALIZED (
    SELECT c.part, c.grp, c.id, c.pinned, c.asked, c.similarity, b.bm25,
           -- float8 throughout: numeric arithmetic (extract, 1.0) is many times slower.
           c.similarity
           -- exp() of less than about -745 is an error ("underflow") in PostgreSQL, not 0:
           -- a memory centuries old (or a tiny tau) is clamped to exp(-700), about 1e-304.
           + %(rw)s::float8
             * exp(greatest(
                   -greatest(extract(epoch from (%(now)s - c.occurred_at))::float8, 0)
                   / (86400 * %(tau)s::float8),
                   -700))
           + %(iw)s::float8 * c.importance AS vscore
    FROM cand c LEFT JOIN bm b ON b.id = c.id
),
bounds AS MATERIALIZED (
    -- Per-list extremes for the convex fusion's min-max normalisation.
    SELECT part, grp, min(vscore) AS vmin, max(vscore) AS vmax, max(bm25) AS tmax
    FROM scored GROUP BY part, grp
),
ranked AS (
    SELECT s.*, x.vmin, x.vmax, x.tmax, {ranks}
    FROM scored s JOIN bounds x ON x.part = s.part AND coalesce(x.grp, '') = coalesce(s.grp, '')
),
fused AS (
    SELECT r.*,
           CASE %(mode)s
               WHEN 'vector' THEN vscore
               WHEN 'text' THEN coalesce(bm25, 0)
               WHEN 'rrf' THEN 1::float8 / (%(rrf_k)s + vrank)
                    + CASE WHEN bm25 IS NULL THEN 0
                           ELSE %(tw)s::float8 / (%(rrf_k)s + trank) END
               ELSE coalesce((vscore - vmin) / nullif(vmax - vmin, 0), 0)
                    + %(tw)s::float8 * coalesce(bm25 / nullif(tmax, 0), 0)
           END AS score
    FROM ranked r
),
final AS (
    SELECT f.*,
           -- Pinned (user-authored) rows first, then rows of a slot the question asks for,
           -- then by score: module docstring, "Pinned" and "Asked".
           row_number() OVER (PARTITION BY part, grp
                              ORDER BY pinned DESC, asked DESC, score DESC, vscore DESC, id)
           AS rn
    FROM fused f
)
SELECT f.part, m.id, m.content, m.category, f.similarity, f.score, coalesce(f.bm25, 0),
       m.occurred_at, m.source_message_ids, f.pinned, f.asked
FROM final f JOIN companion_memories m ON m.id = f.id
WHERE f.rn <= CASE f.part WHEN 'grouped' THEN %(k_cat)s WHEN 'raw' THEN %(k_raw)s
                          ELSE %(k_rel)s END
ORDER BY f.part, f.grp, f.rn
"""

# Only reciprocal rank fusion needs the two rank orders; the other modes skip their sorts.
_RRF_RANKS = """
           row_number() OVER (PARTITION BY s.part, s.grp ORDER BY s.vscore DESC, s.id) AS vrank,
           row_number() OVER (PARTITION BY s.part, s.grp
                              ORDER BY s.bm25 DESC NULLS LAST, s.vscore DESC, s.id) AS trank"""
_RECALL_SQL_RRF = _RECALL_SQL.replace("{ranks}", _RRF_RANKS)
_RECALL_SQL = _RECALL_SQL.replace("{ranks}", "0 AS vrank, 0 AS trank")

#: Recall modes: both halves fused, or one half alone (for evaluation).
MODE_FUSED, MODE_TEXT, MODE_VECTOR = "fused", "text", "vector"
MODES = (MODE_FUSED, MODE_TEXT, MODE_VECTOR)
#: Fusions of the two halves (module docstring).
FUSION_CONVEX, FUSION_RRF = "convex", "rrf"
FUSIONS = (FUSION_CONVEX, FUSION_RRF)
#: Importance of a row nobody scored: the middle of [0, 1], neither lifted nor sunk.
NEUTRAL_IMPORTANCE = 0.5


@dataclass(frozen=True)
class Ranking:
    """The knobs of recall ranking (module docstring); :meth:`from_settings` reads them.

    ``mode``: ``fused`` (both halves), ``text`` (BM25 alone, ties by the vector score) or
    ``vector`` (the vector score alone). ``fusion``: ``convex`` or ``rrf``. ``text_weight`` ≥ 0
    weighs the text half against the vector half (weight 1). ``k1`` ≥ 0 and ``b`` in [0, 1]
    are BM25's; ``rrf_k`` ≥ 1 the RRF constant; the recency and importance weights are in
    cosine units (``recency_weight_now`` for a query that asks about now), ``recency_tau_days``
    > 0.
    """

    mode: str = MODE_FUSED
    fusion: str = FUSION_CONVEX
    text_weight: float = 1.0
    rrf_k: int = 60
    k1: float = 1.2
    b: float = 0.75
    recency_weight: float = 0.0
    recency_weight_now: float = 0.0
    recency_tau_days: float = 30.0
    importance_weight: float = 0.0

    @classmethod
    def from_settings(cls, **overrides) -> Ranking:
        """The configured ranking (``HYBRID_*``, ``BM25_*``, ``RECENCY_*``, ``IMPORTANCE_*``),
        with ``overrides`` (field name → value) applied."""
        values = {
            "mode": MODE_FUSED if settings.HYBRID_RECALL else MODE_VECTOR,
            "fusion": settings.HYBRID_FUSION,
            "text_weight": settings.HYBRID_TEXT_WEIGHT,
            "rrf_k": settings.HYBRID_RRF_K,
            "k1": settings.BM25_K1,
            "b": settings.BM25_B,
            "recency_weight": settings.RECENCY_WEIGHT,
            "recency_weight_now": settings.RECENCY_WEIGHT_NOW,
            "recency_tau_days": settings.RECENCY_TAU_DAYS,
            "importance_weight": settings.IMPORTANCE_WEIGHT,
        }
        values.update(overrides)
        return cls(**values)


def memory_recall(
    *,
    user_id: uuid.UUID,
    instance_id: uuid.UUID | None,
    query_vector: Sequence[float],
    now: datetime,
    profile: bool = True,
    relationship: bool = True,
    query_text: str | None = None,
    hybrid: bool | None = None,
    ranking: Ranking | None = None,
    k_per_category: int | None = None,
    k_raw: int | None = None,
    k_relationship: int | None = None,
    raw: bool = False,
    superseded: bool = False,
) -> Recall:
    """Recall for one turn: one query for both layers.

    Only memories are recalled: raw rows (``category`` NULL: a line as it was said, left by
    older versions or by ``memory_eval``'s raw-turn mode) only with ``raw``, superseded rows
    (``valid_to`` set) only with ``superseded``, forgotten rows never.

    Profile layer: the top ``k_per_category`` (``PROFILE_K_PER_CATEGORY``) rows of each
    category, grouped in category order (emotion, event, fact, preference, relation); with
    ``raw`` and no categorised rows, one raw group (``None``) of the ``k_raw``
    (``PROFILE_RAW_K``) best raw rows. Relationship layer: the ``k_relationship``
    (``RELATIONSHIP_K``) best rows of ``instance_id``. Best first within every list.

    ``query_text`` is the text ``query_vector`` was embedded from; its words are ranked by BM25
    and fused with the vector order as ``ranking`` says (default :meth:`Ranking.from_settings`;
    module docstring). ``hybrid`` = False is vector order alone, True forces fusion. A query
    with no searchable word is ranked by vector alone. Within every list pinned rows come first,
    then the current rows of the slots ``query_text`` asks for
    (:func:`~memory.questions.slots_asked`; module docstring, "Asked"), then the rest.
    ``profile``/``relationship`` = False
    skip a layer (``memory_scope``). Raises
    :class:`~memory.embedding_dim.EmbeddingDimensionMismatch` when ``query_vector`` does not
    fit the embedding column (``EMBEDDING_DIM`` and the database disagree).
    """
    if not (profile or relationship):
        return Recall()
    embedding_dim_guard(len(query_vector))
    ranking = ranking or Ranking.from_settings()
    if hybrid is not None:
        ranking = replace(ranking, mode=MODE_FUSED if hybrid else MODE_VECTOR)
    terms = query_terms(query_text)
    asked = slots_asked(query_text)
    mode = ranking.mode if terms else MODE_VECTOR
    use_text = mode != MODE_VECTOR
    if mode == MODE_FUSED and ranking.fusion == FUSION_RRF:
        mode = FUSION_RRF
    params = {
        "q": format_vector(query_vector),
        "terms": terms if use_text else [],
        "text": use_text,
        "mode": mode,
        "tw": ranking.text_weight,
        "rrf_k": ranking.rrf_k,
        "k1": ranking.k1,
        "b": ranking.b,
        "rw": (
            max(ranking.recency_weight, ranking.recency_weight_now)
            if asks_about_now(query_text)
            else ranking.recency_weight
        ),
        "tau": ranking.recency_tau_days,
        "iw": ranking.importance_weight,
        "neutral": NEUTRAL_IMPORTANCE,
        "now": now,
        "user": user_id,
        "instance": instance_id,
        "profile": profile,
        "relationship": relationship and instance_id is not None,
        "raw": raw,
        "superseded": superseded,
        "asked": [k for k in asked if not is_prefix(k)],
        "asked_prefixes": [k for k in asked if is_prefix(k)],
        "k_cat": settings.PROFILE_K_PER_CATEGORY if k_per_category is None else k_per_category,
        "k_raw": settings.PROFILE_RAW_K if k_raw is None else k_raw,
        "k_rel": settings.RELATIONSHIP_K if k_relationship is None else k_relationship,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECALL_SQL_RRF if mode == FUSION_RRF else _RECALL_SQL, params)
        rows = cursor.fetchall()

    # Rows arrive best first within each list (ORDER BY part, grp, rn).
    grouped: dict[str, list[MemoryHit]] = {}
    raw: list[MemoryHit] = []
    rel: list[MemoryHit] = []
    for row in rows:
        part, mid, content, category, sim, score, text_rank, occurred_at, sources = row[:9]
        pinned, asked_slot = row[9:]
        hit = MemoryHit(
            mid,
            content,
            category,
            float(sim),
            float(score),
            occurred_at,
            tuple(sources or ()),
            float(text_rank),
            bool(pinned),
            bool(asked_slot),
        )
        if part == "grouped":
            grouped.setdefault(category, []).append(hit)
        elif part == "raw":
            raw.append(hit)
        else:
            rel.append(hit)
    if grouped:
        groups: list[tuple[str | None, list[MemoryHit]]] = [
            (category, grouped[category]) for category in sorted(grouped)
        ]
    else:
        groups = [(None, raw)] if raw else []
    return Recall(profile_groups=groups, relationship=rel)


def memory_text_config(*, user_id: uuid.UUID, texts: Sequence[str]) -> str:
    """The text-search configuration for a user's new memories (``memory.language``).

    The language of ``texts`` (the user's own words, or the conversation) when it can be told;
    else the language of the user's latest memory that had one; else ``simple``. At most one
    query, and only when ``texts`` do not tell.
    """
    config = text_search_config(texts)
    if config != FALLBACK_CONFIG:
        return config
    latest = (
        CompanionMemory.objects.filter(user_id=user_id)
        # regconfig compares as an oid: compare its name instead.
        .annotate(config=Cast("ts_config", TextField()))
        .exclude(config=FALLBACK_CONFIG)
        .order_by("-created_at")
        .values_list("config", flat=True)
        .first()
    )
    return latest or FALLBACK_CONFIG


#: Columns a client may see; never the embedding or the text-search vector.
MEMORY_FIELDS = (
    "id",
    "session_id",
    "user_id",
    "instance_id",
    "category",
    "content",
    "source_message_ids",
    "importance",
    "occurred_at",
    "created_at",
    "updated_at",
    "pinned",
    # Facts that change (DESIGN §7): the slot it fills, when it stopped being true, and the
    # id of the memory that replaced it (``values()`` names the foreign key's column so).
    "slot",
    "valid_to",
    "superseded_by",
)


@dataclass(frozen=True)
class MemoryPage:
    """One page of a user's memories: dicts of :data:`MEMORY_FIELDS` plus ``layer`` (and
    ``similarity`` when searched), the ``total`` matching rows, and whether more follow."""

    items: list[dict]
    total: int
    has_more: bool


def memory_list(
    *,
    user_id: uuid.UUID,
    layer: str | None = None,
    instance_id: uuid.UUID | None = None,
    category: str | None = None,
    q: str = "",
    limit: int = 20,
    offset: int = 0,
    include_superseded: bool = False,
    embedder: Embedder | None = None,
) -> MemoryPage:
    """A user's live (not soft-deleted) memories, filtered and paginated.

    Current memories only, unless ``include_superseded``: then the rows that were replaced by
    a newer value too (``valid_to`` and ``superseded_by`` set). ``layer`` is ``profile`` or
    ``relationship``; ``instance_id`` and ``category`` narrow further. Newest first
    (``created_at``), or, when ``q`` is not blank, by cosine similarity to ``q``'s query
    embedding, best first (an exact scan of the user's rows); ``embedder`` defaults to the
    configured one. Two queries: the count and the page, plus one embeddings call with ``q``.

    Raises :class:`~eros.errors.Upstream` when the embeddings provider fails.
    """
    query_vector = None
    if q.strip():
        embedder = embedder or get_embedder()
        try:
            query_vector = embedder.embed_query(q.strip())
        except ProviderError as exc:
            raise Upstream("the embeddings provider failed; please retry") from exc
    rows = CompanionMemory.objects.filter(user_id=user_id, deleted_at__isnull=True)
    if not include_superseded:
        rows = rows.filter(valid_to__isnull=True)
    if layer == LAYER_PROFILE:
        rows = rows.filter(instance_id__isnull=True)
    elif layer == LAYER_RELATIONSHIP:
        rows = rows.filter(instance_id__isnull=False)
    if instance_id is not None:
        rows = rows.filter(instance_id=instance_id)
    if category is not None:
        rows = rows.filter(category=category)
    total = rows.count()
    fields = list(MEMORY_FIELDS)
    if query_vector is not None:
        # 1 − distance, not the bare distance: an ORDER BY the HNSW index cannot serve, so the
        # scan is exact over the user's rows.
        rows = rows.annotate(
            similarity=Value(1.0, output_field=FloatField())
            - CosineDistance("embedding", query_vector)
        ).order_by("-similarity", "id")
        fields.append("similarity")
    else:
        rows = rows.order_by("-created_at", "id")
    items = list(rows.values(*fields)[offset : offset + limit])
    for item in items:
        item["layer"] = LAYER_PROFILE if item["instance_id"] is None else LAYER_RELATIONSHIP
    return MemoryPage(items=items, total=total, has_more=offset + len(items) < total)


@functools.cache
def _iterative_scan_supported(vendor_key: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    version = tuple(int(p) for p in re.findall(r"\d+", row[0] if row else "0")[:2])
    return version >= (0, 8)


def memory_search(
    *, query_vector: Sequence[float], k: int = 10, ef_search: int | None = None
) -> list[dict]:
    """The ``k`` live memories nearest to ``query_vector`` across all users, nearest first.

    Approximate: served by the HNSW index (``hnsw.ef_search`` = max(``ef_search``, 2k, 40)),
    with pgvector ≥ 0.8's iterative scan so that soft-deleted rows filtered after the scan do
    not shorten the result. Rows are dicts of :data:`MEMORY_FIELDS` plus ``layer`` and
    ``similarity``. For one user's memories use :func:`memory_list` (exact).
    """
    ef = max(ef_search or 0, 2 * k, 40)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(ef)])
        if _iterative_scan_supported(connection.alias):
            cursor.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        rows = (
            CompanionMemory.objects.filter(deleted_at__isnull=True)
            .annotate(distance=CosineDistance("embedding", query_vector))
            .order_by("distance")
            .annotate(similarity=Value(1.0, output_field=FloatField()) - F("distance"))
            .values(*MEMORY_FIELDS, "similarity")[:k]
        )
        items = list(rows)
    items.sort(key=lambda item: -item["similarity"])  # relaxed order: re-sort the few hits
    for item in items:
        item["layer"] = LAYER_PROFILE if item["instance_id"] is None else LAYER_RELATIONSHIP
    return items


def memory_get_many(*, user_id: uuid.UUID, memory_ids: Sequence[uuid.UUID]) -> list[dict]:
    """The live memories of ``user_id`` among ``memory_ids``, in that order: dicts of
    :data:`MEMORY_FIELDS` plus ``layer``. Ids of other users' or deleted rows are skipped."""
    rows = CompanionMemory.objects.filter(
        user_id=user_id, id__in=list(memory_ids), deleted_at__isnull=True
    ).values(*MEMORY_FIELDS)
    found = {row["id"]: row for row in rows}
    items = [found[i] for i in dict.fromkeys(memory_ids) if i in found]
    for item in items:
        item["layer"] = LAYER_PROFILE if item["instance_id"] is None else LAYER_RELATIONSHIP
    return items
