"""Memory writes: per-turn rows (``turns``), lifecycle (``lifecycle``), dreaming (``dreaming``)."""

from memory.services.lifecycle import memory_restore, memory_soft_delete
from memory.services.turns import memory_write_turn

__all__ = ["memory_restore", "memory_soft_delete", "memory_write_turn"]
