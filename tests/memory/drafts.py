"""Memory drafts for writer tests: one profile or relationship draft of a session, at a time."""

from __future__ import annotations

from eros.llm.fakes import unit_vector
from memory.services.writes import MemoryDraft, MemoryWrite, memory_upsert_many


def draft(session, content, *, at, seed, category="fact", layer="profile", **extra) -> MemoryDraft:
    """A draft of ``session``'s user (``layer`` ``relationship``: of its persona instance) whose
    embedding is the unit vector ``seed``, told at ``at``; ``extra`` are more draft fields."""
    return MemoryDraft(
        session_id=session.id,
        user_id=session.user_id,
        instance_id=session.instance_id if layer == "relationship" else None,
        content=content,
        embedding=unit_vector(seed),
        category=category,
        occurred_at=at,
        **extra,
    )


def write(session, content, *, at, seed, **extra) -> MemoryWrite:
    """Write one :func:`draft` and return how it was written."""
    (written,) = memory_upsert_many([draft(session, content, at=at, seed=seed, **extra)])
    return written
