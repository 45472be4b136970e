"""The one affinity transition: `decay` and `advance` (reference eros-engine-core.md §1.3).

Exact doubles: the expected vectors reuse the reference's X9/X10 drift and A3 EMA values, and
the last test pins `advance` to the decay → clock → EMA → label sequence bit for bit.
"""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from companions.domain.affinity import (
    EMA_INERTIA_DEFAULT,
    Transition,
    advance,
    apply_deltas,
    apply_time_decay,
    decay,
    decay_minutes,
    infer_label,
)
from companions.domain.types import Affinity, AffinityDeltas, RelationshipLabel

NOW = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)


def fresh(**overrides) -> Affinity:
    """A new session's affinity (database defaults), last written at NOW."""
    return dataclasses.replace(Affinity(updated_at=NOW), **overrides)


def written_ago(elapsed: timedelta, **overrides) -> Affinity:
    return fresh(updated_at=NOW - elapsed, **overrides)


def test_decay_moves_updated_at_by_the_whole_minutes_consumed_only():
    """89 s: one minute decays (X9's doubles), the 29 s remainder stays owed."""
    step = decay(written_ago(timedelta(seconds=89)), now=NOW)

    assert step.decay_minutes == 1
    assert step.decay_days == 0.0006944444444444445
    assert step.affinity.updated_at == NOW - timedelta(seconds=29)
    assert step.affinity.vector() == {
        "warmth": 0.3,
        "trust": 0.2,
        "intrigue": 0.49999305555555557,
        "intimacy": 0.0,
        "patience": 0.5000034722222222,
        "tension": 0.09999652777777779,
    }


def test_decay_applied_again_at_the_same_instant_decays_nothing_more():
    once = decay(written_ago(timedelta(days=3, seconds=40)), now=NOW)

    again = decay(once.affinity, now=NOW)

    assert again == Transition(once.affinity, 0)


def test_decay_keeps_the_label_and_the_ghost_bookkeeping():
    before = written_ago(
        timedelta(days=1),
        intrigue=0.6,
        tension=0.4,
        relationship_label=RelationshipLabel.SLOW_BURN,
        ghost_streak=2,
        total_ghosts=5,
        last_ghost_at=NOW - timedelta(hours=3),
    )

    after = decay(before, now=NOW).affinity

    assert after.intrigue == 0.59 and after.tension == 0.395
    assert after.relationship_label is RelationshipLabel.SLOW_BURN  # stale until the next advance
    assert (after.ghost_streak, after.total_ghosts, after.last_ghost_at) == (
        2,
        5,
        NOW - timedelta(hours=3),
    )


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(fresh(updated_at=NOW + timedelta(hours=5)), id="future-updated-at"),
        pytest.param(Affinity(), id="no-updated-at"),
        pytest.param(written_ago(timedelta(seconds=59)), id="under-a-minute"),
    ],
)
def test_decay_without_a_whole_minute_owed_returns_the_value_unchanged(before):
    assert decay(before, now=NOW) == Transition(before, 0)


def test_advance_decays_then_applies_damped_deltas_then_labels():
    """X9's drift for 90 s, then A3's warmth step; the 30 s remainder carries over."""
    step = advance(
        written_ago(timedelta(seconds=90)), AffinityDeltas(warmth=0.5), now=NOW, inertia=0.8
    )

    assert step.affinity.vector() == {
        "warmth": 0.39999999999999997,
        "trust": 0.2,
        "intrigue": 0.49999305555555557,
        "intimacy": 0.0,
        "patience": 0.5000034722222222,
        "tension": 0.09999652777777779,
    }
    assert step.affinity.relationship_label is RelationshipLabel.STRANGER
    assert step.affinity.updated_at == NOW - timedelta(seconds=30)
    assert step.decay_minutes == 1


def test_zero_delta_advance_is_decay_only_plus_the_label():
    """X10's week of drift, with no deltas at the standard inertia."""
    before = written_ago(timedelta(days=7), relationship_label=RelationshipLabel.STRANGER)

    advanced = advance(before, AffinityDeltas(), now=NOW, inertia=EMA_INERTIA_DEFAULT)

    assert advanced == decay(before, now=NOW)
    assert advanced.decay_minutes == 10080 and advanced.decay_days == 7.0
    assert advanced.affinity.vector() == {
        "warmth": 0.3,
        "trust": 0.2,
        "intrigue": 0.43,
        "intimacy": 0.0,
        "patience": 0.535,
        "tension": 0.065,
    }
    assert advanced.affinity.updated_at == NOW


def test_zero_delta_advance_relabels_what_decay_alone_leaves_stale():
    before = written_ago(
        timedelta(days=1), intrigue=0.6, tension=0.4, relationship_label=RelationshipLabel.SLOW_BURN
    )

    decayed = decay(before, now=NOW)
    advanced = advance(before, AffinityDeltas(), now=NOW, inertia=0.8)

    # One day of drift takes intrigue to 0.59, below slow_burn's 0.6.
    assert advanced.affinity == dataclasses.replace(
        decayed.affinity, relationship_label=RelationshipLabel.STRANGER
    )
    assert advanced.decay_minutes == decayed.decay_minutes == 1440


def test_advance_with_a_future_updated_at_applies_deltas_without_decay():
    before = fresh(updated_at=NOW + timedelta(hours=5))

    step = advance(
        before,
        AffinityDeltas(warmth=0.5, patience=-0.05, tension=0.05),
        now=NOW,
        inertia=0.8,
    )

    assert step.decay_minutes == 0
    assert step.affinity.updated_at == NOW + timedelta(hours=5)
    assert step.affinity.vector() == {
        "warmth": 0.39999999999999997,
        "trust": 0.2,
        "intrigue": 0.5,
        "intimacy": 0.0,
        "patience": 0.49,
        "tension": 0.11,
    }


def test_advance_changes_the_label_when_the_deltas_cross_a_threshold():
    """Warmth 0.65 + 0.2 * 0.5 reaches friend's 0.7 with trust still at or above 0.6."""
    before = fresh(warmth=0.65, trust=0.7, relationship_label=RelationshipLabel.STRANGER)

    step = advance(before, AffinityDeltas(warmth=0.5, trust=-0.1), now=NOW, inertia=0.8)

    assert step.affinity.warmth == 0.75
    assert step.affinity.trust == 0.6799999999999999
    assert step.affinity.relationship_label is RelationshipLabel.FRIEND


def test_advance_leaves_the_ghost_bookkeeping_alone():
    before = written_ago(
        timedelta(hours=2), ghost_streak=1, total_ghosts=4, last_ghost_at=NOW - timedelta(hours=2)
    )

    after = advance(before, AffinityDeltas(patience=-0.05, tension=0.05), now=NOW, inertia=0.8)

    assert (after.affinity.ghost_streak, after.affinity.total_ghosts) == (1, 4)
    assert after.affinity.last_ghost_at == NOW - timedelta(hours=2)


def test_sub_minute_remainders_add_up_across_advances():
    """Two writes 45 s apart: the first owes no whole minute, the second owes one."""
    start = fresh(updated_at=NOW)

    first = advance(start, AffinityDeltas(), now=NOW + timedelta(seconds=45), inertia=0.8)
    second = advance(first.affinity, AffinityDeltas(), now=NOW + timedelta(seconds=90), inertia=0.8)

    assert (first.decay_minutes, first.affinity.updated_at) == (0, NOW)
    assert (second.decay_minutes, second.affinity.updated_at) == (1, NOW + timedelta(minutes=1))
    assert second.affinity.intrigue == 0.49999305555555557


@pytest.mark.parametrize("elapsed_seconds", [-3600, 0, 59, 61, 89, 5_000, 864_000, 31_536_000])
@pytest.mark.parametrize("inertia", [0.0, 0.3, 0.8, 1.0])
def test_advance_equals_the_decay_ema_label_sequence_bit_for_bit(elapsed_seconds, inertia):
    """The step the writes used to spell out: decay, move the clock, EMA, infer the label."""
    before = written_ago(
        timedelta(seconds=elapsed_seconds),
        warmth=-0.2,
        trust=0.61,
        intrigue=0.73,
        intimacy=0.35,
        patience=0.12,
        tension=0.58,
    )
    deltas = AffinityDeltas(
        warmth=0.15, trust=-0.07, intrigue=0.03, intimacy=0.11, patience=-0.05, tension=0.05
    )

    minutes = decay_minutes(before.updated_at, NOW)
    expected = before
    if minutes > 0:
        expected = apply_time_decay(expected, now=NOW)
        expected = dataclasses.replace(
            expected, updated_at=expected.updated_at + timedelta(minutes=minutes)
        )
    expected = apply_deltas(expected, deltas, ema_inertia=inertia)
    expected = dataclasses.replace(expected, relationship_label=infer_label(expected))

    step = advance(before, deltas, now=NOW, inertia=inertia)

    assert step == Transition(expected, max(minutes, 0))
