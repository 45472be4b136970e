"""Memory writes with near-duplicate merging (DESIGN §5, §7).

A new memory whose embedding has cosine similarity ≥ ``DEDUP_SIMILARITY`` (default 0.92) to a
live memory of the same user, layer (and persona instance, for the relationship layer) and
category updates that memory (content, embedding, sources union, ``updated_at``) instead of
adding a row. Writes for one user are serialised by a transaction-scoped advisory lock, so two
workers distilling the same user's sessions at once cannot both insert the same memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import FloatField, Value
from django.utils import timezone
from pgvector.django import CosineDistance

from memory.embedding_dim import embedding_dim_guard
from memory.importance import clamp_importance, importance_from_cues
from memory.language import text_search_config
from memory.models import CompanionMemory

#: First key of the two-key advisory lock taken per user while writing memories ("mem").
_LOCK_CLASS = 0x6D656D


@dataclass(frozen=True)
class MemoryDraft:
    """A memory to write. ``instance_id`` None = profile layer; ``category`` None = raw row."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    instance_id: uuid.UUID | None
    content: str
    embedding: Sequence[float]
    category: str | None = None
    source_message_ids: Sequence[uuid.UUID] = field(default_factory=tuple)
    occurred_at: datetime | None = None
    #: In [0, 1]; None: scored from the content's cues (``memory.importance``).
    importance: float | None = None
    #: Text-search configuration (``memory.language``); None: detected from the content.
    ts_config: str | None = None


@dataclass(frozen=True)
class MemoryWrite:
    """The row a draft ended in, and whether it was inserted (False: merged into a twin)."""

    memory: CompanionMemory
    created: bool


def memory_lock_user(user_id: uuid.UUID) -> None:
    """Take the per-user memory write lock until the end of the current transaction.

    Precondition: inside ``transaction.atomic()``.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_LOCK_CLASS, str(user_id)]
        )


def memory_find_twin(
    *,
    user_id: uuid.UUID,
    instance_id: uuid.UUID | None,
    category: str | None,
    embedding: Sequence[float],
    threshold: float | None = None,
    lock: bool = False,
) -> CompanionMemory | None:
    """The live memory of the same user, layer/instance and category most similar to
    ``embedding``, if its cosine similarity is ≥ ``threshold`` (``DEDUP_SIMILARITY``).

    Exact: it ranks by ``1 − distance``, which the HNSW index cannot serve, so the planner scans
    the user's rows instead of filtering an approximate top-40. ``lock`` adds ``FOR UPDATE``.
    """
    threshold = settings.DEDUP_SIMILARITY if threshold is None else threshold
    rows = CompanionMemory.objects.filter(user_id=user_id, deleted_at__isnull=True)
    rows = (
        rows.filter(instance_id__isnull=True)
        if instance_id is None
        else rows.filter(instance_id=instance_id)
    )
    rows = (
        rows.filter(category__isnull=True) if category is None else rows.filter(category=category)
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    return (
        rows.annotate(
            similarity=Value(1.0, output_field=FloatField())
            - CosineDistance("embedding", embedding)
        )
        .filter(similarity__gte=threshold)
        .order_by("-similarity", "id")
        .first()
    )


def memory_upsert_many(drafts: Sequence[MemoryDraft]) -> list[MemoryWrite]:
    """Write drafts in order, merging each into its near-duplicate when one exists.

    Runs in one transaction (joining the caller's, if any) holding the advisory lock of every
    user involved; a draft can merge into a row written earlier in the same call. The merged
    row keeps its id, session, ``occurred_at`` and ``created_at``; its sources become the union
    (old first, order kept) and its importance the higher of the two. A draft without
    importance is scored by :func:`~memory.importance.importance_from_cues`, one without a
    text-search configuration gets its content's language (``memory.language``). Returns one
    :class:`MemoryWrite` per draft, in order. Raises
    :class:`~memory.embedding_dim.EmbeddingDimensionMismatch`, writing nothing, when the
    vectors do not fit the embedding column (``EMBEDDING_DIM`` and the database disagree).
    """
    for size in {len(d.embedding) for d in drafts}:
        embedding_dim_guard(size)
    out: list[MemoryWrite] = []
    with transaction.atomic():
        for user_id in sorted({d.user_id for d in drafts}, key=str):  # fixed order: no deadlock
            memory_lock_user(user_id)
        for draft in drafts:
            sources = list(dict.fromkeys(draft.source_message_ids))
            importance = (
                importance_from_cues(draft.content, draft.category)
                if draft.importance is None
                else clamp_importance(draft.importance)
            )
            ts_config = draft.ts_config or text_search_config(draft.content)
            twin = memory_find_twin(
                user_id=draft.user_id,
                instance_id=draft.instance_id,
                category=draft.category,
                embedding=draft.embedding,
                lock=True,
            )
            if twin is not None:
                twin.content = draft.content
                twin.embedding = list(draft.embedding)
                twin.source_message_ids = list(dict.fromkeys([*twin.source_message_ids, *sources]))
                twin.importance = max(importance, twin.importance or 0.0)
                twin.ts_config = ts_config
                twin.updated_at = timezone.now()
                twin.save(
                    update_fields=[
                        "content",
                        "embedding",
                        "source_message_ids",
                        "importance",
                        "ts_config",
                        "updated_at",
                    ]
                )
                out.append(MemoryWrite(twin, created=False))
                continue
            memory = CompanionMemory.objects.create(
                session_id=draft.session_id,
                user_id=draft.user_id,
                instance_id=draft.instance_id,
                content=draft.content,
                embedding=list(draft.embedding),
                category=draft.category,
                source_message_ids=sources,
                importance=importance,
                ts_config=ts_config,
                **({"occurred_at": draft.occurred_at} if draft.occurred_at else {}),
            )
            out.append(MemoryWrite(memory, created=True))
    return out
