"""Re-embed every memory with another embedding model, dimension included, while eros runs.

New vectors go into a shadow column, ``embedding_next vector(N)``, next to the live
``embedding`` column, which eros keeps reading and writing with its current model meanwhile:

1. :func:`reembed_start` adds the shadow column (or keeps it, to resume a run of the same
   model and size) and a trigger that clears a row's shadow vector whenever its content
   changes. Rows inserted by eros get no shadow vector either (the column is unknown to it).
2. :func:`reembed_batch` embeds the next rows without a shadow vector, in id order, outside any
   transaction, then stores each vector only if the row's content is still the text that was
   embedded; a row edited meanwhile stays empty for the next pass.
3. :func:`reembed_build_index` builds the HNSW index of the shadow column concurrently (once
   most rows are filled, which is faster than growing it row by row).
4. :func:`reembed_swap`, in one short transaction under an exclusive table lock, checks that
   no row lacks a shadow vector (else it changes nothing and the caller runs another pass),
   then drops the old column, renames the shadow column and its index into place and removes
   the trigger.

So a crash at any point loses nothing: before the swap the live column is untouched and the
shadow vectors already stored are kept for the next run; the swap is all or nothing
(PostgreSQL DDL is transactional). Memories written during the run, and edits, end up in the
new model because the passes repeat until the swap finds every row filled.

After the swap, eros processes still running with the old settings can no longer store or
recall vectors of the old size (:mod:`memory.embedding_dim` says so); restart them with the
new ``EMBEDDING_DIM`` and provider. When the size did not change they would keep writing
vectors of the old model, so restart them right away.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import OperationalError, connection, transaction

from eros.llm.base import Embedder

TABLE = "companion_memories"
COLUMN = "embedding"
SHADOW = "embedding_next"
INDEX = "idx_memories_embedding"
SHADOW_INDEX = "idx_memories_embedding_next"
TRIGGER = "companion_memories_reembed"
TRIGGER_FUNCTION = "companion_memories_reembed_reset"
#: HNSW parameters of the live index (memory.models.CompanionMemory.Meta.indexes).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64

_ZERO_UUID = uuid.UUID(int=0)


class ReembedError(Exception):
    """The run cannot go on (wrong vector size from the embedder, a table lock not granted)."""


@dataclass(frozen=True)
class ReembedState:
    """Where a run stands: ``total`` memories, ``remaining`` without a shadow vector,
    ``resumed`` True when a previous run of the same ``target`` had stored some."""

    target: str
    dim: int
    total: int
    remaining: int
    resumed: bool


def reembed_target(embedder: Embedder, dim: int) -> str:
    """What the shadow vectors are made with: provider, model, size and document marking.

    A run resumes only rows embedded with exactly this; anything else starts over.
    """
    model = getattr(embedder, "model", None)
    parts = [f"{embedder.name}:{model}" if model else embedder.name, f"dim={dim}"]
    prefix = getattr(embedder, "document_prefix", "")
    if prefix:
        parts.append(f"prefix={prefix!r}")
    input_types = getattr(embedder, "input_types", None)
    if input_types:
        parts.append(f"input_type={input_types[1]}")
    return " ".join(parts)


#: Session-level advisory lock key of a running ``memory_reembed`` ("reem").
_RUN_LOCK = 0x7265656D


def reembed_claim() -> bool:
    """Claim the right to run (a session-level advisory lock, released when the connection
    closes, even on a crash); False when another run holds it. Two runs at once would race
    for the swap."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_RUN_LOCK])
        return bool(cursor.fetchone()[0])


def reembed_start(*, dim: int, target: str) -> ReembedState:
    """Prepare the shadow column for ``target`` vectors of ``dim``; resume a matching run.

    The shadow column's comment records its target; a column left by a run of another target
    (or size) is dropped and made again. Takes the table lock for a moment (adding a nullable
    column without default rewrites nothing).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '10s'")
        existing = _shadow(cursor)
        resumed = existing is not None and existing == (dim, target)
        if existing is not None and not resumed:
            cursor.execute(f"ALTER TABLE {TABLE} DROP COLUMN {SHADOW}")
        if not resumed:
            cursor.execute(f"ALTER TABLE {TABLE} ADD COLUMN {SHADOW} vector({dim})")
            # Inline like the live column (migration 0004): one heap row, no TOAST lookups.
            cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN {SHADOW} SET STORAGE MAIN")
            cursor.execute(f"COMMENT ON COLUMN {TABLE}.{SHADOW} IS %s", [target])
        cursor.execute(
            f"""
            CREATE OR REPLACE FUNCTION {TRIGGER_FUNCTION}() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                -- A new text needs a new vector: the next pass embeds it.
                IF TG_OP = 'INSERT' OR NEW.content IS DISTINCT FROM OLD.content THEN
                    NEW.{SHADOW} := NULL;
                END IF;
                RETURN NEW;
            END $$
            """
        )
        cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE}")
        cursor.execute(
            f"CREATE TRIGGER {TRIGGER} BEFORE INSERT OR UPDATE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER_FUNCTION}()"
        )
        cursor.execute(f"SELECT count(*), count(*) FILTER (WHERE {SHADOW} IS NULL) FROM {TABLE}")
        total, remaining = cursor.fetchone()
    return ReembedState(target, dim, total, remaining, resumed and remaining < total)


def reembed_remaining() -> int:
    """How many memories have no shadow vector yet."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE {SHADOW} IS NULL")
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class ReembedBatch:
    """One batch: ``read`` rows, ``stored`` vectors (fewer when rows changed meanwhile), and
    ``last_id`` to continue after (``None``: no row was left, the pass is over)."""

    read: int
    stored: int
    last_id: uuid.UUID | None


def reembed_batch(
    *, embedder: Embedder, dim: int, after: uuid.UUID | None, size: int
) -> ReembedBatch:
    """Embed up to ``size`` memories without a shadow vector whose id follows ``after``.

    Blank contents (erased memories) get the fixed unit vector the local embedder gives a text
    without words. A row whose content changed after it was read is skipped (it stays empty
    for the next pass). Raises ``ProviderError`` when the embedder fails,
    :class:`ReembedError` when it returns vectors of another size than ``dim``.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, content FROM {TABLE} WHERE {SHADOW} IS NULL AND id > %s "
            "ORDER BY id LIMIT %s",
            [after or _ZERO_UUID, size],
        )
        rows = cursor.fetchall()
    if not rows:
        return ReembedBatch(0, 0, None)
    texts = [content for _, content in rows if content and content.strip()]
    vectors = iter(embedder.embed_documents(texts) if texts else [])
    blank = _literal([1.0] + [0.0] * (dim - 1))
    formatted: list[str] = []
    for _, content in rows:
        if content and content.strip():
            vector = next(vectors)
            if len(vector) != dim:
                raise ReembedError(
                    f"the embedder returned {len(vector)}-dimension vectors, expected {dim} "
                    "(check EMBEDDING_DIM / --dim and the embedding model)"
                )
            formatted.append(_literal(vector))
        else:
            formatted.append(blank)
    stored = _store([r[0] for r in rows], [r[1] for r in rows], formatted)
    return ReembedBatch(len(rows), stored, rows[-1][0])


def _store(ids: Sequence[uuid.UUID], contents: Sequence[str], vectors: Sequence[str]) -> int:
    # One statement, autocommit: each batch is durable on its own, and the content comparison
    # makes a concurrent edit win (its trigger cleared the row, or our WHERE misses it).
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {TABLE} AS m SET {SHADOW} = v.vec::vector
            FROM unnest(%s::uuid[], %s::text[], %s::text[]) AS v(id, content, vec)
            WHERE m.id = v.id AND m.content = v.content AND m.{SHADOW} IS NULL
            """,
            [list(ids), list(contents), list(vectors)],
        )
        return cursor.rowcount


def reembed_build_index() -> None:
    """Build the shadow column's HNSW index concurrently (writes go on meanwhile).

    An index left invalid by an interrupted build is dropped and built again. Must run outside
    a transaction (``CREATE INDEX CONCURRENTLY``).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
            [SHADOW_INDEX],
        )
        row = cursor.fetchone()
        if row is not None and row[0]:
            return
        if row is not None:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {SHADOW_INDEX}")
        cursor.execute(
            f"CREATE INDEX CONCURRENTLY {SHADOW_INDEX} ON {TABLE} "
            f"USING hnsw ({SHADOW} vector_cosine_ops) "
            f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
        )


def reembed_swap(*, lock_timeout_s: float = 10.0) -> bool:
    """Put the shadow column in place of ``embedding``; False (nothing changed) if a row
    still lacks a shadow vector or the table lock was not granted within ``lock_timeout_s``.

    Under ``ACCESS EXCLUSIVE`` for the few statements of the swap (readers and writers wait
    that long): drop the trigger, its function and the old column with its index, rename the
    shadow column and index to ``embedding`` / ``idx_memories_embedding``, set NOT NULL.
    Precondition: :func:`reembed_build_index` has run.
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{lock_timeout_s}s"])
            cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {TABLE} WHERE {SHADOW} IS NULL)")
            if cursor.fetchone()[0]:
                return False
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {TRIGGER_FUNCTION}()")
            cursor.execute(f"ALTER TABLE {TABLE} DROP COLUMN {COLUMN}")  # drops its index too
            cursor.execute(f"ALTER TABLE {TABLE} RENAME COLUMN {SHADOW} TO {COLUMN}")
            cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN {COLUMN} SET NOT NULL")
            cursor.execute(f"COMMENT ON COLUMN {TABLE}.{COLUMN} IS NULL")
            cursor.execute(f"ALTER INDEX {SHADOW_INDEX} RENAME TO {INDEX}")
    except OperationalError as exc:
        if _lock_not_granted(exc):
            return False
        raise
    return True


def _lock_not_granted(exc: BaseException) -> bool:
    """True for PostgreSQL's ``lock_not_available`` (55P03): ``lock_timeout`` ran out."""
    return getattr(exc.__cause__, "sqlstate", None) == "55P03"


def _literal(vector: Sequence[float]) -> str:
    """pgvector's text form at full float precision (the database rounds to float32)."""
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


def reembed_abandon() -> None:
    """Drop the shadow column, its index and the trigger: the live column stays as it is."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {TRIGGER_FUNCTION}()")
        cursor.execute(f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS {SHADOW}")


def _shadow(cursor) -> tuple[int, str] | None:
    """``(dim, target)`` of an existing shadow column, or None."""
    cursor.execute(
        "SELECT a.atttypmod, col_description(a.attrelid, a.attnum) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
        [TABLE, SHADOW],
    )
    row = cursor.fetchone()
    return None if row is None else (row[0], row[1] or "")
