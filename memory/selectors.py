"""Memory reads: per-turn recall from both layers in one round trip (DESIGN §7).

Per-user searches are exact: the partial B-tree indexes narrow to one user's rows and every
ranking runs over all of them (an approximate HNSW scan that filters afterwards can return too
few rows for a single user, and a user's memories are few). The HNSW index serves only
cross-user searches (:func:`memory_search`).

Vector ranking score (DESIGN §7; weights 0 give pure cosine order, the reference behaviour of
eros-engine-server.md §6.5):

    vscore = cosine_similarity + RECENCY_WEIGHT · exp(−age_days / RECENCY_TAU_DAYS)
             + IMPORTANCE_WEIGHT · importance

with age in event time (``occurred_at``). Hybrid recall (``HYBRID_RECALL``, on by default)
fuses that order with a full-text order by reciprocal rank fusion (Cormack, Clarke &
Büttcher, SIGIR 2009):

    score = 1 / (HYBRID_RRF_K + vector_rank) + 1 / (HYBRID_RRF_K + text_rank)

Ranks are 1-based within the same list (a category of the profile layer, the raw profile rows,
or the relationship rows); the text term is 0 for rows that match no query word. The text
order ranks rows by the summed inverse document frequency of the query words they contain,
counted over the user's rows being recalled, with BM25's idf
``ln(1 + (N − df + 0.5) / (df + 0.5))`` (Robertson & Zaragoza 2009; term frequency and length
are left out, memories being short). A word matches a row when it is one of the row's lexemes
in ``content_tsv`` (``to_tsvector('simple', content)``). So a word every memory shares (the
user's own name, say) barely counts, and a rare one decides. English stopwords are dropped from
the query. Without hybrid recall ``score = vscore``. Soft-deleted rows never surface.

Cost: one index-driven pass over the user's rows (both layers), then sorts of narrow rows;
contents are read for the winners only. Measured with ``manage.py benchmark recall``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, FloatField, Value
from pgvector.django import CosineDistance

from eros.errors import Upstream
from eros.llm.base import Embedder, ProviderError
from eros.llm.cleaning import format_vector
from eros.llm.embeddings_local import STOPWORDS
from eros.llm.providers import get_embedder
from memory.embedding_dim import embedding_dim_guard
from memory.models import LAYER_PROFILE, LAYER_RELATIONSHIP, CompanionMemory

#: At most this many distinct terms of a query are searched as text.
MAX_QUERY_TERMS = 32

# Letters and digits: PostgreSQL's text-search parser also splits words at "_".
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class MemoryHit:
    """A recalled memory.

    ``similarity``: cosine similarity in [-1, 1]. ``score``: the ranking score (the RRF score
    in (0, 2/(k+1)] with hybrid recall, else the vector score). ``text_rank``: summed idf of
    the query words the memory contains (module docstring), 0.0 when none matched or text
    search was off.
    """

    id: uuid.UUID
    content: str
    category: str | None
    similarity: float
    score: float
    occurred_at: datetime
    source_message_ids: tuple[uuid.UUID, ...]
    text_rank: float = 0.0


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
WITH terms AS MATERIALIZED (
    SELECT t.n, plainto_tsquery('simple', t.term) AS tq
    FROM unnest(%(terms)s::text[]) WITH ORDINALITY AS t(term, n)
    WHERE %(hybrid)s
),
any_term AS MATERIALIZED (
    SELECT to_tsquery('simple', %(any_term)s) AS tq WHERE %(hybrid)s
),
cand AS MATERIALIZED (
    -- One pass over the user's rows, keeping only what ranking needs; MATERIALIZED so each
    -- vector is compared once. ``hits``: which query words the row holds (checked only for
    -- rows holding any). Contents are fetched for the winners only (last step).
    SELECT CASE WHEN m.instance_id IS NOT NULL THEN 'relationship'
                WHEN m.category IS NOT NULL THEN 'grouped' ELSE 'raw' END AS part,
           CASE WHEN m.instance_id IS NULL THEN m.category END AS grp,
           m.id,
           1 - (m.embedding <=> %(q)s::vector) AS similarity,
           CASE WHEN %(hybrid)s AND m.content_tsv @@ (SELECT tq FROM any_term)
                THEN ARRAY(SELECT t.n FROM terms t WHERE m.content_tsv @@ t.tq) END AS hits,
           m.occurred_at,
           coalesce(m.importance, 0)::float8 AS importance
    FROM companion_memories m
    WHERE m.user_id = %(user)s AND m.deleted_at IS NULL
      AND ((%(profile)s AND m.instance_id IS NULL)
           OR (%(relationship)s AND m.instance_id = %(instance)s))
),
idf AS MATERIALIZED (
    -- BM25's idf of each query word found, over the recalled rows.
    SELECT h.n, ln(1 + ((SELECT count(*) FROM cand) - h.df + 0.5)::float8 / (h.df + 0.5)) AS w
    FROM (SELECT unnest(hits) AS n, count(*) AS df FROM cand WHERE hits IS NOT NULL GROUP BY 1) h
),
scored AS MATERIALIZED (
    SELECT c.part, c.grp, c.id, c.similarity,
           CASE WHEN c.hits IS NOT NULL THEN (SELECT sum(i.w) FROM idf i WHERE i.n = ANY(c.hits))
           END AS text_rank,
           -- float8 throughout: numeric arithmetic (extract, 1.0) is many times slower.
           c.similarity
           + %(rw)s::float8
             * exp(-greatest(extract(epoch from (%(now)s - c.occurred_at))::float8, 0)
                   / (86400 * %(tau)s::float8))
           + %(iw)s::float8 * c.importance AS vscore
    FROM cand c
),
ranked AS (
    SELECT s.*,
           row_number() OVER (PARTITION BY part, grp ORDER BY vscore DESC, id) AS vrank,
           row_number() OVER (PARTITION BY part, grp, text_rank IS NULL
                              ORDER BY text_rank DESC, vscore DESC, id) AS trank
    FROM scored s
),
fused AS (
    SELECT r.*,
           CASE WHEN %(hybrid)s
                THEN 1::float8 / (%(rrf_k)s + vrank)
                     + CASE WHEN text_rank IS NULL THEN 0 ELSE 1::float8 / (%(rrf_k)s + trank) END
                ELSE vscore END AS score
    FROM ranked r
),
final AS (
    SELECT f.*,
           row_number() OVER (PARTITION BY part, grp ORDER BY score DESC, vscore DESC, id) AS rn
    FROM fused f
)
SELECT f.part, m.id, m.content, m.category, f.similarity, f.score, coalesce(f.text_rank, 0),
       m.occurred_at, m.source_message_ids
FROM final f JOIN companion_memories m ON m.id = f.id
WHERE f.rn <= CASE f.part WHEN 'grouped' THEN %(k_cat)s WHEN 'raw' THEN %(k_raw)s
                          ELSE %(k_rel)s END
ORDER BY f.part, f.grp, f.rn
"""


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
    k_per_category: int | None = None,
    k_raw: int | None = None,
    k_relationship: int | None = None,
) -> Recall:
    """Recall for one turn: one query for both layers.

    Profile layer: the top ``k_per_category`` (``PROFILE_K_PER_CATEGORY``) rows of each
    category, grouped in category order (emotion, event, fact, preference, relation); if the
    user has no categorised rows, one raw group (``None``) of the ``k_raw``
    (``PROFILE_RAW_K``) best raw rows. Relationship layer: the ``k_relationship``
    (``RELATIONSHIP_K``) best rows of ``instance_id``. Best first within every list.

    ``query_text`` is the text ``query_vector`` was embedded from; with ``hybrid`` (default
    ``HYBRID_RECALL``) its words are matched as full text and fused with the vector order
    (module docstring). ``profile``/``relationship`` = False skip a layer (``memory_scope``).
    Raises :class:`~memory.embedding_dim.EmbeddingDimensionMismatch` when ``query_vector``
    does not fit the embedding column (``EMBEDDING_DIM`` and the database disagree).
    """
    if not (profile or relationship):
        return Recall()
    embedding_dim_guard(len(query_vector))
    terms = query_terms(query_text)
    use_text = (settings.HYBRID_RECALL if hybrid is None else hybrid) and bool(terms)
    params = {
        "q": format_vector(query_vector),
        "terms": terms if use_text else [],
        "any_term": " | ".join(f"'{t}'" for t in terms) if use_text else "",
        "hybrid": use_text,
        "rrf_k": settings.HYBRID_RRF_K,
        "rw": settings.RECENCY_WEIGHT,
        "tau": settings.RECENCY_TAU_DAYS,
        "iw": settings.IMPORTANCE_WEIGHT,
        "now": now,
        "user": user_id,
        "instance": instance_id,
        "profile": profile,
        "relationship": relationship and instance_id is not None,
        "k_cat": settings.PROFILE_K_PER_CATEGORY if k_per_category is None else k_per_category,
        "k_raw": settings.PROFILE_RAW_K if k_raw is None else k_raw,
        "k_rel": settings.RELATIONSHIP_K if k_relationship is None else k_relationship,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECALL_SQL, params)
        rows = cursor.fetchall()

    # Rows arrive best first within each list (ORDER BY part, grp, rn).
    grouped: dict[str, list[MemoryHit]] = {}
    raw: list[MemoryHit] = []
    rel: list[MemoryHit] = []
    for part, mid, content, category, sim, score, text_rank, occurred_at, sources in rows:
        hit = MemoryHit(
            mid,
            content,
            category,
            float(sim),
            float(score),
            occurred_at,
            tuple(sources or ()),
            float(text_rank),
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
    embedder: Embedder | None = None,
) -> MemoryPage:
    """A user's live (not soft-deleted) memories, filtered and paginated.

    ``layer`` is ``profile`` or ``relationship``; ``instance_id`` and ``category`` narrow
    further. Newest first (``created_at``), or, when ``q`` is not blank, by cosine similarity
    to ``q``'s query embedding, best first (an exact scan of the user's rows); ``embedder``
    defaults to the configured one. Two queries: the count and the page, plus one embeddings
    call with ``q``.

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
