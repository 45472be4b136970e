"""Value types shared by the affinity, ghost and decision rules.

Everything here is an immutable value: frozen dataclasses and string enums. Nothing touches a
database, the clock or the network. Field names and defaults follow reference
eros-engine-core.md §1.1 and §1.3.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

# Canonical axis order: serialisation, admin columns and prompts all iterate in this order.
AXES: tuple[str, ...] = ("warmth", "trust", "intrigue", "intimacy", "patience", "tension")


# StrEnum members are `str` and `Enum` at once, and `str(member)` / f-strings give the stored
# value ("slow_burn"), which is what the database columns and JSON payloads carry.
class RelationshipLabel(StrEnum):
    """Cached relationship label, stored in snake_case (reference §1.3)."""

    STRANGER = "stranger"
    ROMANTIC = "romantic"
    FRIEND = "friend"
    FRENEMY = "frenemy"
    SLOW_BURN = "slow_burn"


class ActionType(StrEnum):
    """The decision engine's verdict: which handler runs for this turn (reference §1.1)."""

    REPLY = "reply"
    GHOST = "ghost"
    PROACTIVE = "proactive"
    GIFT_REACTION = "gift_reaction"


class ReplyStyle(StrEnum):
    """Tone directive handed to the prompt builder (reference §1.1)."""

    WARM = "warm"
    NEUTRAL = "neutral"
    COLD = "cold"
    TSUNDERE = "tsundere"
    EXCITED = "excited"


@dataclass(frozen=True)
class AffinityDeltas:
    """A proposed change to each of the six affinity axes.

    Raw, unblended deltas: the EMA damping happens in `affinity.apply_deltas`. All six default
    to 0.0; nothing bounds them here. Stored as JSON on affinity events (reference §1.3).
    """

    warmth: float = 0.0
    trust: float = 0.0
    intrigue: float = 0.0
    intimacy: float = 0.0
    patience: float = 0.0
    tension: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """Return the deltas as a plain dict.

        Keys are exactly AXES, in AXES order; values are floats.
        """
        return {axis: getattr(self, axis) for axis in AXES}

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> AffinityDeltas:
        """Build deltas from a mapping such as a JSON object.

        Missing axes become 0.0 and keys that are not axes are ignored. Values are passed
        through `float()`, so a non-numeric value raises TypeError or ValueError.
        """
        return cls(**{axis: float(m.get(axis, 0.0)) for axis in AXES})

    def __add__(self, other: object) -> AffinityDeltas:
        """Return the axis-wise sum `self + other`.

        Each axis is computed as `self.axis + other.axis` (left operand first), so summing a
        sequence of deltas reproduces the reference's accumulation order bit for bit.
        """
        if not isinstance(other, AffinityDeltas):
            return NotImplemented
        return AffinityDeltas(**{axis: getattr(self, axis) + getattr(other, axis) for axis in AXES})


@dataclass(frozen=True)
class Affinity:
    """The six-dimensional relationship vector of one chat session plus ghost bookkeeping.

    Ranges: warmth -1.0..1.0, the other five axes 0.0..1.0. The ranges are enforced only by
    the clamps in `affinity.apply_deltas` and `affinity.apply_time_decay`; values loaded from
    storage are not re-clamped. Defaults are a new session's (reference §1.3). Datetimes are
    timezone-aware UTC. Update with `dataclasses.replace`.
    """

    warmth: float = 0.3
    trust: float = 0.2
    intrigue: float = 0.5
    intimacy: float = 0.0
    patience: float = 0.5
    tension: float = 0.1
    ghost_streak: int = 0
    last_ghost_at: datetime | None = None
    total_ghosts: int = 0
    relationship_label: RelationshipLabel | None = None
    # Reference point for time decay: the last moment the vector was persisted.
    updated_at: datetime | None = None

    def vector(self) -> dict[str, float]:
        """Return the six axis values.

        Keys are exactly AXES, in AXES order.
        """
        return {axis: getattr(self, axis) for axis in AXES}


@dataclass(frozen=True)
class UserMessage:
    """The user sent a chat message.

    `content` is the raw text; its length in Unicode code points drives the reply deltas.
    The decision engine never reads `message_id` (reference §1.1).
    """

    content: str
    message_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Gift:
    """The user sent a gift.

    The decision engine never reads `gift_id` or `amount` (reference §1.1).
    """

    gift_id: uuid.UUID | None = None
    amount: int = 0


@dataclass(frozen=True)
class ProactiveTrigger:
    """A scheduler asks the companion to speak first (reference §1.1)."""


@dataclass(frozen=True)
class AppOpen:
    """The user opened the app without sending anything (reference §1.1)."""


Event: TypeAlias = UserMessage | Gift | ProactiveTrigger | AppOpen


@dataclass(frozen=True)
class ConversationSignals:
    """Facts about the conversation that the caller computes from chat history.

    - message_count: number of user messages in the session, including the current one.
    - hours_since_last_message: whole minutes / 60.0 since the user's *previous* message
      (DESIGN §9.2, so the stale rule can fire; the reference measured to the current one);
      0.0 when there is none.
    - ghost_streak: copy of the affinity's streak; the decision engine does not read it (the
      ghost check reads `Affinity.ghost_streak`), it is kept for logging.
    - hours_since_last_ghost: whole minutes / 60.0 since `Affinity.last_ghost_at`, or None
      if the session has never ghosted.

    Source: reference eros-engine-core.md §1.1 and §1.4.
    """

    message_count: int
    hours_since_last_message: float = 0.0
    ghost_streak: int = 0
    hours_since_last_ghost: float | None = None


@dataclass(frozen=True)
class ActionPlan:
    """The decision engine's output for one event.

    - action_type / reply_style: what to do and in which tone.
    - affinity_deltas: raw predicted change for the turn (unblended).
    - energy_cost: a per-action constant, 0.0..0.10; informational only.
    - context_hints: extra lines for the prompt; empty from the rule engine.

    Source: reference eros-engine-core.md §1.1.
    """

    action_type: ActionType
    reply_style: ReplyStyle
    affinity_deltas: AffinityDeltas
    energy_cost: float
    context_hints: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonaTraits:
    """The only persona facts the decision engine needs.

    `tip_personality` selects the gift reaction style; unknown values and None mean warm.
    """

    name: str
    tip_personality: str | None = None


@dataclass(frozen=True)
class DecisionInput:
    """Everything `pde.decide` looks at for one event.

    `affinity` should already have time decay applied up to now (reference §1.4).
    """

    event: Event
    affinity: Affinity
    persona: PersonaTraits
    signals: ConversationSignals
