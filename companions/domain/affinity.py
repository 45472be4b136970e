"""Affinity arithmetic: the damped delta step, lazy time decay and the relationship label.

Pure functions over `types.Affinity`; the caller supplies `now`. Formulas, constants and the
order of floating-point operations follow reference eros-engine-core.md §0 and §1.3, so the
results are bit-identical to the reference engine.
"""

from __future__ import annotations

import dataclasses
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

    `updated_at` is NOT advanced, so applying this twice to the same value decays twice.
    Eros persists the decayed vector whenever it writes the row and moves `updated_at` to
    `now` in the same write (DESIGN §9.4), which is what keeps decay from being lost or
    counted twice; that is the persistence layer's job, not this function's.
    """
    minutes = decay_minutes(affinity.updated_at, now)
    if minutes <= 0:
        return affinity
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
