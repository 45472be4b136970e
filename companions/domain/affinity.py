"""Affinity arithmetic: the damped delta step, lazy time decay and the relationship label.

Pure functions over `types.Affinity`; the caller supplies `now`. Formulas, constants and the
order of floating-point operations follow reference eros-engine-core.md §0 and §1.3, so the
results are bit-identical to the reference engine.

`advance` is the one transition every write of the vector goes through (reply, ghost, gift,
and the admin's replay of the events log); `decay` is the same step without deltas or
relabelling, for a write that only changes the ghost bookkeeping.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from companions.domain.types import Affinity, AffinityDeltas, RelationshipLabel

# Inertia of the delta step: the share of a delta that is *not* applied in one turn.
EMA_INERTIA_DEFAULT = 0.8
# Demo sessions move faster so a short showcase conversation visibly changes the vector.
DEMO_EMA_INERTIA_DEFAULT = 0.3

WARMTH_MIN = -1.0
AXIS_MIN = 0.0
AXIS_MAX = 1.0

# Signed drift per day of real time. Warmth, trust and intimacy never decay.
INTRIGUE_DECAY_PER_DAY = -0.01
PATIENCE_RECOVERY_PER_DAY = 0.005
TENSION_DECAY_PER_DAY = -0.005

MINUTES_PER_DAY = 1440.0

_MICROSECONDS_PER_MINUTE = 60_000_000


def clamp(v: float, lo: float, hi: float) -> float:
    """Bound `v` to [lo, hi], letting NaN through unchanged.

    Returns `lo` if v < lo, else `hi` if v > hi, else `v`. Both comparisons are false for NaN,
    so NaN is returned as is (reference §0); `max(lo, min(hi, v))` would not do that.
    """
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


def whole_minutes(elapsed: timedelta) -> int:
    """Return the number of whole minutes in `elapsed`, truncated toward zero.

    89 s gives 1, 59 s gives 0, -89 s gives -1. Mirrors chrono's `num_minutes()` (reference
    §0). Callers treat a result <= 0 as "no time has passed".
    """
    # Integer microseconds keep this exact for any duration; total_seconds() is a float.
    micros = elapsed // timedelta(microseconds=1)
    minutes = abs(micros) // _MICROSECONDS_PER_MINUTE
    return minutes if micros >= 0 else -minutes


def apply_deltas(affinity: Affinity, deltas: AffinityDeltas, *, ema_inertia: float) -> Affinity:
    """Return `affinity` moved by the damped deltas: `axis + (1 - ema_inertia) * delta`.

    Warmth is clamped to [-1, 1], the other axes to [0, 1]. `ema_inertia` is meant to lie in
    [0, 1] (0 applies the delta in full) and is not validated. `updated_at` and
    `relationship_label` are left alone: the caller advances the clock when it persists and
    calls `infer_label` itself. Formula: reference eros-engine-core.md §1.3.
    """
    # Compute blend first, then old + blend*delta: rewriting the expression changes the
    # last bit (0.3 + 0.2*0.5 is 0.39999999999999997 this way, as in the reference).
    blend = 1.0 - ema_inertia
    return dataclasses.replace(
        affinity,
        warmth=clamp(affinity.warmth + blend * deltas.warmth, WARMTH_MIN, AXIS_MAX),
        trust=clamp(affinity.trust + blend * deltas.trust, AXIS_MIN, AXIS_MAX),
        intrigue=clamp(affinity.intrigue + blend * deltas.intrigue, AXIS_MIN, AXIS_MAX),
        intimacy=clamp(affinity.intimacy + blend * deltas.intimacy, AXIS_MIN, AXIS_MAX),
        patience=clamp(affinity.patience + blend * deltas.patience, AXIS_MIN, AXIS_MAX),
        tension=clamp(affinity.tension + blend * deltas.tension, AXIS_MIN, AXIS_MAX),
    )


def decay_minutes(updated_at: datetime | None, now: datetime) -> int:
    """Return the whole minutes of decay owed between `updated_at` and `now`.

    Truncated toward zero; negative when `updated_at` lies in the future; 0 when
    `updated_at` is None. Both datetimes must be timezone-aware. Reference §1.3.
    """
    if updated_at is None:
        return 0
    return whole_minutes(now - updated_at)


def apply_time_decay(affinity: Affinity, *, now: datetime) -> Affinity:
    """Return `affinity` drifted for the real time elapsed since `affinity.updated_at`.

    days = whole minutes / 1440.0; intrigue -0.01/day, patience +0.005/day, tension
    -0.005/day, each clamped to [0, 1]; warmth, trust and intimacy are untouched. Returns the
    affinity unchanged when less than one whole minute has passed, when `updated_at` is in
    the future, or when it is None. Formula: reference eros-engine-core.md §1.3.

    `updated_at` is NOT advanced, so applying this twice to the same value decays twice: use
    it for a read-only view. A step that is written uses `decay` or `advance`, which move
    `updated_at` by the minutes consumed, so decay is never lost nor counted twice (DESIGN
    §9 item 4).
    """
    minutes = decay_minutes(affinity.updated_at, now)
    if minutes <= 0:
        return affinity
    return _drift(affinity, minutes)


def _drift(affinity: Affinity, minutes: int) -> Affinity:
    """The decay formula for `minutes` (> 0) whole minutes; `updated_at` is left alone."""
    days = minutes / MINUTES_PER_DAY
    # `x + (-r)*d` is bit-identical to the reference's `x - r*d`: negation is exact.
    return dataclasses.replace(
        affinity,
        intrigue=clamp(affinity.intrigue + INTRIGUE_DECAY_PER_DAY * days, AXIS_MIN, AXIS_MAX),
        patience=clamp(affinity.patience + PATIENCE_RECOVERY_PER_DAY * days, AXIS_MIN, AXIS_MAX),
        tension=clamp(affinity.tension + TENSION_DECAY_PER_DAY * days, AXIS_MIN, AXIS_MAX),
    )


def infer_label(affinity: Affinity) -> RelationshipLabel:
    """Return the relationship label for the current vector; never None.

    First match wins: romantic, friend, frenemy, slow_burn, else stranger. All thresholds
    are as in reference eros-engine-core.md §1.3, including its gap: a warm, trusting pair
    with 0.2 <= tension < 0.3 (or tension >= 0.3 without intimacy) is not a friend.
    """
    a = affinity
    if a.warmth >= 0.7 and a.tension >= 0.3 and a.intimacy >= 0.4:
        return RelationshipLabel.ROMANTIC
    if a.warmth >= 0.7 and a.trust >= 0.6 and a.tension < 0.2:
        return RelationshipLabel.FRIEND
    if a.warmth < 0.4 and a.tension >= 0.6 and a.intrigue >= 0.5:
        return RelationshipLabel.FRENEMY
    if a.intrigue >= 0.6 and a.tension >= 0.4 and a.intimacy < 0.4:
        return RelationshipLabel.SLOW_BURN
    return RelationshipLabel.STRANGER


@dataclass(frozen=True)
class Transition:
    """The affinity after one step, and how much time decay the step consumed.

    - affinity: the new value; its `updated_at` is the old one plus exactly `decay_minutes`.
    - decay_minutes: whole minutes of decay applied, >= 0; 0 when less than a minute has
      passed, when `updated_at` lies in the future, or when it is None.
    """

    affinity: Affinity
    decay_minutes: int = 0

    @property
    def decay_days(self) -> float:
        """`decay_minutes / 1440.0`, the `days` the decay formula used (reference §1.3)."""
        return self.decay_minutes / MINUTES_PER_DAY


def decay(affinity: Affinity, *, now: datetime) -> Transition:
    """Return `affinity` decayed to `now`, with `updated_at` moved by the minutes consumed.

    The drift is `apply_time_decay`'s (reference eros-engine-core.md §1.3). `updated_at`
    advances by exactly the whole minutes applied, not to `now`: the sub-minute remainder
    carries over to the next step instead of being lost (89 s decays one minute and leaves
    29 s owed). A future or missing `updated_at` decays nothing and stays as it is. The label
    and the ghost bookkeeping are untouched. Applying the result again at the same `now`
    decays nothing more.
    """
    updated_at = affinity.updated_at
    minutes = decay_minutes(updated_at, now)
    if updated_at is None or minutes <= 0:
        return Transition(affinity, 0)
    drifted = _drift(affinity, minutes)
    return Transition(
        dataclasses.replace(drifted, updated_at=updated_at + timedelta(minutes=minutes)), minutes
    )


def advance(
    affinity: Affinity, deltas: AffinityDeltas, *, now: datetime, inertia: float
) -> Transition:
    """Return the relationship one write later: decay to `now`, EMA-apply `deltas`, relabel.

    In this order (reference eros-engine-core.md §1.3, with eros's persisted decay, DESIGN
    §9.4): `decay(affinity, now=now)`, then `apply_deltas(..., ema_inertia=inertia)` with its
    clamps (warmth [-1, 1], the rest [0, 1]), then `relationship_label = infer_label(...)`.
    `deltas` are raw; `inertia` is meant to lie in [0, 1] and is not validated. Ghost
    bookkeeping is untouched; `updated_at` moves as in `decay`.
    """
    decayed = decay(affinity, now=now)
    moved = apply_deltas(decayed.affinity, deltas, ema_inertia=inertia)
    return Transition(
        dataclasses.replace(moved, relationship_label=infer_label(moved)), decayed.decay_minutes
    )
