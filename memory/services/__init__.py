"""Memory writes: per-turn rows (``turns``), near-duplicate merging (``writes``), lifecycle
(``lifecycle``), dreaming (``dreaming``) and erasing a user's data (``erase``)."""

from memory.services.erase import user_data_erase
from memory.services.lifecycle import memory_restore, memory_soft_delete
from memory.services.turns import memory_write_turn
from memory.services.writes import MemoryDraft, memory_upsert_many

__all__ = [
    "MemoryDraft",
    "memory_restore",
    "memory_soft_delete",
    "memory_upsert_many",
    "memory_write_turn",
    "user_data_erase",
]
