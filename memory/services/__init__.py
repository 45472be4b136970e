"""Memory writes: per-turn rows (``turns``) and the dreaming sweeper (``dreaming``)."""

from memory.services.turns import memory_write_turn

__all__ = ["memory_write_turn"]
