"""Per-request ``memory_scope`` and ``affinity_scope``: what prompt assembly may use.

Semantics from reference eros-engine-server.md §8. Both gate prompt assembly only; post-process
writes are the same under every value. The reply-length rule is the tiered one of §8.3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from companions.domain.types import AXES

BOND_AXES = frozenset({"warmth", "intimacy", "tension"})
CHEMISTRY_AXES = frozenset({"trust", "intrigue", "patience"})


@dataclass(frozen=True)
class MemoryScope:
    """``insights``: ``full``, ``neutral`` or ``off``; ``profile``/``relationship``: recall on?"""

    name: str
    insights: str
    profile: bool
    relationship: bool

    @property
    def recall_needed(self) -> bool:
        return self.profile or self.relationship


MEMORY_SCOPES: dict[str, MemoryScope] = {
    s.name: s
    for s in (
        MemoryScope("full", "full", True, True),
        MemoryScope("neutral_and_relationship", "neutral", True, True),
        MemoryScope("relationship_only", "off", False, True),
        MemoryScope("neutral_only", "neutral", False, False),
        MemoryScope("insights_only", "full", False, False),
        MemoryScope("none", "off", False, False),
    )
}
DEFAULT_MEMORY_SCOPE = "neutral_and_relationship"

AFFINITY_PRESETS: dict[str, frozenset[str]] = {
    "bond": BOND_AXES,
    "chemistry": CHEMISTRY_AXES,
    "full": frozenset(AXES),
    "bond_and_chemistry": frozenset(AXES),
    "none": frozenset(),
}
DEFAULT_AFFINITY_SCOPE = "bond"


class ScopeError(ValueError):
    """An unknown scope value; the message names it and lists the accepted ones."""


def resolve_memory_scope(value: str | None) -> MemoryScope:
    """The scope for a request value; None means the default (``neutral_and_relationship``)."""
    if value is None:
        return MEMORY_SCOPES[DEFAULT_MEMORY_SCOPE]
    scope = MEMORY_SCOPES.get(value) if isinstance(value, str) else None
    if scope is None:
        raise ScopeError(
            f"unknown memory_scope {value!r}; expected one of {', '.join(MEMORY_SCOPES)}"
        )
    return scope


def resolve_affinity_scope(value: str | Iterable[str] | None) -> frozenset[str]:
    """The set of axes for a preset name or a list of axis names; None means ``bond``."""
    if value is None:
        return AFFINITY_PRESETS[DEFAULT_AFFINITY_SCOPE]
    if isinstance(value, str):
        axes = AFFINITY_PRESETS.get(value)
        if axes is None:
            raise ScopeError(
                f"unknown affinity_scope {value!r}; expected one of "
                f"{', '.join(AFFINITY_PRESETS)} or a list of axes"
            )
        return axes
    items = list(value)
    bad = [a for a in items if not isinstance(a, str) or a not in AXES]
    if bad:
        raise ScopeError(f"unknown affinity axis {bad[0]!r}; expected axes from {', '.join(AXES)}")
    return frozenset(items)


def _clamp01(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def length_score(vector: Mapping[str, float], axes: frozenset[str]) -> float | None:
    """Composite closeness in [0, 1] from the in-scope lines, or None with no axis in scope.

    bond = (warmth01 + intimacy + tension) / 3 with warmth01 = (warmth + 1) / 2; chemistry =
    (trust + intrigue + patience) / 3; averaged when both lines are in scope (reference §8.3).
    """
    warm01 = _clamp01((vector["warmth"] + 1) / 2)
    bond = _clamp01((warm01 + vector["intimacy"] + vector["tension"]) / 3)
    chemistry = _clamp01((vector["trust"] + vector["intrigue"] + vector["patience"]) / 3)
    bond_on, chem_on = bool(axes & BOND_AXES), bool(axes & CHEMISTRY_AXES)
    if bond_on and chem_on:
        return (bond + chemistry) / 2
    if bond_on:
        return bond
    if chem_on:
        return chemistry
    return None


def length_tier(vector: Mapping[str, float], axes: frozenset[str]) -> tuple[str, int]:
    """(sentence range, max characters per message) for the reply-length rule (§8.3 tiers)."""
    score = length_score(vector, axes) or 0.0
    if score < 0.25:
        return "1-2", 40
    if score < 0.55:
        return "1-3", 60
    return "1-5", 100
