"""Memory writes: a turn's memories (``turns``), supersession and near-duplicate merging
(``writes``), lifecycle
(``lifecycle``: an operator's restorable soft delete), what users do to their own
(``user_memories``: add, edit, forget for good), dreaming's
distillation (``dreaming``) and erasing a user's memories (``erase``)."""

from memory.services.erase import memory_erase_user
from memory.services.lifecycle import memory_restore, memory_soft_delete
from memory.services.turns import TurnMemories, memory_turn_prepare
from memory.services.user_memories import memory_add, memory_edit, memory_forget
from memory.services.writes import (
    MemoryDraft,
    memory_reconcile_slots,
    memory_replace_source,
    memory_upsert_many,
)

__all__ = [
    "MemoryDraft",
    "TurnMemories",
    "memory_add",
    "memory_edit",
    "memory_erase_user",
    "memory_forget",
    "memory_reconcile_slots",
    "memory_replace_source",
    "memory_restore",
    "memory_soft_delete",
    "memory_turn_prepare",
    "memory_upsert_many",
]
