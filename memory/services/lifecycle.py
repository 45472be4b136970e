"""An operator's soft delete and restore of memories: a soft-deleted memory is never recalled.

A user's own delete is final instead (:func:`memory.services.user_memories.memory_forget`): the
row is gone, so there is nothing left to restore.
"""

from __future__ import annotations

import uuid

from django.utils import timezone

from memory.models import CompanionMemory


def memory_soft_delete(*, memory_id: uuid.UUID, user_id: uuid.UUID | None = None) -> bool:
    """Mark a memory deleted (``deleted_at = now``); returns False if none matched.

    ``user_id``, when given, must own the memory (the API passes the caller; admin does not).
    Deleting an already deleted memory keeps its first ``deleted_at`` and returns True.
    """
    rows = CompanionMemory.objects.filter(id=memory_id)
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if not rows.exists():
        return False
    now = timezone.now()
    rows.filter(deleted_at__isnull=True).update(deleted_at=now, updated_at=now)
    return True


def memory_restore(*, memory_id: uuid.UUID) -> bool:
    """Undo a soft delete; returns False if the memory does not exist or was not deleted."""
    return bool(
        CompanionMemory.objects.filter(id=memory_id, deleted_at__isnull=False).update(
            deleted_at=None, updated_at=timezone.now()
        )
    )
