"""The size of ``companion_memories.embedding`` against ``EMBEDDING_DIM`` (DESIGN §3, §6).

A fresh database's column is created at ``EMBEDDING_DIM`` (migration 0001 reads the setting);
an existing one keeps the size it was made with until ``manage.py memory_reembed --dim N``
changes it. When the two disagree, nothing can be stored or recalled (pgvector refuses vectors
of another size), so eros says what to run:

* at start-up: system check ``memory.E001`` (a database check: ``manage.py migrate`` and
  ``manage.py check --database default``) and a ``post_migrate`` check (so ``manage.py up``,
  which migrates first, stops with the same message);
* at the first write or recall whose vector does not fit the column
  (:func:`embedding_dim_guard`), for processes started without either.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import connections

TABLE = "companion_memories"
COLUMN = "embedding"

# Sizes known to fit, per database alias: a match is remembered, a mismatch is re-read each
# time, so a process outliving a ``memory_reembed`` swap sees the new size.
_fitting: dict[str, int] = {}


class EmbeddingDimensionMismatch(ImproperlyConfigured):
    """The embedding column and the vectors eros makes have different sizes.

    ``column``: the column's dimension; ``dim``: the vectors' (``EMBEDDING_DIM``).
    """

    def __init__(self, column: int, dim: int):
        super().__init__(mismatch_message(column, dim))
        self.column = column
        self.dim = dim


def mismatch_message(column: int, dim: int) -> str:
    """What is wrong and the two ways out, as one line an operator can act on."""
    return (
        f"{TABLE}.{COLUMN} holds {column}-dimension vectors but EMBEDDING_DIM is {dim}: "
        f"run `python manage.py memory_reembed --dim {dim}` to re-embed every memory with the "
        f"configured embeddings provider at {dim} dimensions, or set EMBEDDING_DIM={column} "
        "(with the embedding model that made the stored vectors)"
    )


def embedding_column_dim(using: str = "default") -> int | None:
    """The declared dimension of ``companion_memories.embedding``, or None before migrations.

    Reads the catalogue (pgvector keeps the dimension as the column's type modifier), so it
    costs one small query and works on any schema in the connection's ``search_path``.
    """
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT a.atttypmod FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
            [TABLE, COLUMN],
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] > 0 else None


def embedding_dim_guard(dim: int, *, using: str = "default") -> None:
    """Raise :class:`EmbeddingDimensionMismatch` unless vectors of ``dim`` fit the column.

    Costs one catalogue query the first time per process and database (then remembered while
    it fits); a missing table passes (the database write will say so).
    """
    if _fitting.get(using) == dim:
        return
    column = embedding_column_dim(using)
    if column is None:
        return
    if column != dim:
        raise EmbeddingDimensionMismatch(column, dim)
    _fitting[using] = dim


def forget_fitting() -> None:
    """Forget remembered sizes (after the column changed in this process)."""
    _fitting.clear()


def embedding_dim_check(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    """System check ``memory.E001``: the column's dimension equals ``EMBEDDING_DIM``.

    Runs only when Django checks databases (``migrate``, ``check --database``).
    """
    errors: list[checks.CheckMessage] = []
    for alias in databases or ():
        column = embedding_column_dim(alias)
        if column is not None and column != settings.EMBEDDING_DIM:
            errors.append(
                checks.Error(
                    mismatch_message(column, settings.EMBEDDING_DIM),
                    hint="memory_reembed is batched and resumable, and eros can keep running.",
                    id="memory.E001",
                )
            )
    return errors


def check_after_migrate(*, using: str = "default", **kwargs) -> None:
    """``post_migrate`` receiver: stop ``migrate`` (and so ``manage.py up``) on a mismatch.

    Raises ``CommandError``, which a management command prints as one line, not a traceback.
    """
    column = embedding_column_dim(using)
    if column is not None and column != settings.EMBEDDING_DIM:
        raise CommandError(mismatch_message(column, settings.EMBEDDING_DIM))
