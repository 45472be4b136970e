"""Memory reads: per-turn recall from both layers in one round trip (DESIGN §7).

Per-user searches are exact: the partial B-tree indexes narrow to one user's rows and the
distance sort runs over those (an approximate HNSW scan that filters afterwards can return too
few rows for a single user). Ranking is

    score = cosine_similarity + RECENCY_WEIGHT · exp(−age_days / RECENCY_TAU_DAYS)
            + IMPORTANCE_WEIGHT · importance

with age in event time (``occurred_at``); both weights 0 gives pure cosine order, the
reference behaviour (eros-engine-server.md §6.5). Soft-deleted rows never surface.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection

from eros.llm.cleaning import format_vector


@dataclass(frozen=True)
class MemoryHit:
    """A recalled memory with its cosine ``similarity`` in [-1, 1] and ranking ``score``."""

    id: uuid.UUID
    content: str
    category: str | None
    similarity: float
    score: float
    occurred_at: datetime
    source_message_ids: tuple[uuid.UUID, ...]


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


_SCORE = """(1 - (embedding <=> %(q)s::vector))
    + %(rw)s * exp(-greatest(extract(epoch from (%(now)s - occurred_at)), 0)
                   / 86400.0 / %(tau)s)
    + %(iw)s * coalesce(importance, 0)"""

_COLUMNS = "id, content, category, 1 - (embedding <=> %(q)s::vector) AS similarity"

_RECALL_SQL = f"""
SELECT 'grouped' AS part, id, content, category, similarity, score, occurred_at, source_message_ids
FROM (
    SELECT {_COLUMNS}, {_SCORE} AS score, occurred_at, source_message_ids,
           row_number() OVER (PARTITION BY category ORDER BY {_SCORE} DESC) AS rn
    FROM companion_memories
    WHERE %(profile)s AND user_id = %(user)s AND instance_id IS NULL
      AND category IS NOT NULL AND deleted_at IS NULL
) grouped
WHERE rn <= %(k_cat)s
UNION ALL
(SELECT 'raw', {_COLUMNS}, {_SCORE}, occurred_at, source_message_ids
   FROM companion_memories
   WHERE %(profile)s AND user_id = %(user)s AND instance_id IS NULL
     AND category IS NULL AND deleted_at IS NULL
   ORDER BY 6 DESC LIMIT %(k_raw)s)
UNION ALL
(SELECT 'relationship', {_COLUMNS}, {_SCORE}, occurred_at, source_message_ids
   FROM companion_memories
   WHERE %(relationship)s AND user_id = %(user)s AND instance_id = %(instance)s
     AND deleted_at IS NULL
   ORDER BY 6 DESC LIMIT %(k_rel)s)
"""


def memory_recall(
    *,
    user_id: uuid.UUID,
    instance_id: uuid.UUID | None,
    query_vector: Sequence[float],
    now: datetime,
    profile: bool = True,
    relationship: bool = True,
) -> Recall:
    """Recall for one turn: one query for both layers.

    Profile layer: the top ``PROFILE_K_PER_CATEGORY`` rows of each category, grouped in
    category order (emotion, event, fact, preference, relation); if the user has no
    categorised rows, one raw group (``None``) of the ``PROFILE_RAW_K`` best raw rows.
    Relationship layer: the ``RELATIONSHIP_K`` best rows of ``instance_id``. Best first.
    """
    if not (profile or relationship):
        return Recall()
    params = {
        "q": format_vector(query_vector),
        "rw": settings.RECENCY_WEIGHT,
        "tau": settings.RECENCY_TAU_DAYS,
        "iw": settings.IMPORTANCE_WEIGHT,
        "now": now,
        "user": user_id,
        "instance": instance_id,
        "profile": profile,
        "relationship": relationship and instance_id is not None,
        "k_cat": settings.PROFILE_K_PER_CATEGORY,
        "k_raw": settings.PROFILE_RAW_K,
        "k_rel": settings.RELATIONSHIP_K,
    }
    with connection.cursor() as cursor:
        cursor.execute(_RECALL_SQL, params)
        rows = cursor.fetchall()

    grouped: dict[str, list[MemoryHit]] = {}
    raw: list[MemoryHit] = []
    rel: list[MemoryHit] = []
    for part, mid, content, category, sim, score, occurred_at, sources in rows:
        hit = MemoryHit(
            mid, content, category, float(sim), float(score), occurred_at, tuple(sources or ())
        )
        if part == "grouped":
            grouped.setdefault(category, []).append(hit)
        elif part == "raw":
            raw.append(hit)
        else:
            rel.append(hit)
    for hits in grouped.values():
        hits.sort(key=lambda h: -h.score)
    raw.sort(key=lambda h: -h.score)
    rel.sort(key=lambda h: -h.score)
    if grouped:
        groups: list[tuple[str | None, list[MemoryHit]]] = [
            (category, grouped[category]) for category in sorted(grouped)
        ]
    else:
        groups = [(None, raw)] if raw else []
    return Recall(profile_groups=groups, relationship=rel)
