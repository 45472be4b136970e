"""Affinity arithmetic against reference vectors A1-A10 and X6-X12 (eros-engine-core.md §5)."""

import dataclasses
import math
from datetime import UTC, datetime, timedelta

import pytest

from companions.domain.affinity import (
    DEMO_EMA_INERTIA_DEFAULT,
    EMA_INERTIA_DEFAULT,
    apply_deltas,
    apply_time_decay,
    clamp,
    decay_minutes,
    infer_label,
    whole_minutes,
)
from companions.domain.types import AXES, Affinity, AffinityDeltas, RelationshipLabel

NOW = datetime(2026, 5, 12, 12, 0, tzinfo=UTC)


def fresh(**overrides) -> Affinity:
    """A new session's affinity (database defaults), last written at NOW."""
    return dataclasses.replace(Affinity(updated_at=NOW), **overrides)


def written_ago(elapsed: timedelta, **overrides) -> Affinity:
    return fresh(updated_at=NOW - elapsed, **overrides)


# --- apply_deltas -------------------------------------------------------------------------


def test_apply_deltas_clamps_to_valid_ranges():
    """A1."""
    deltas = AffinityDeltas(warmth=5.0, trust=-2.0, intrigue=0.1)

    result = apply_deltas(fresh(), deltas, ema_inertia=0.0)

    assert result.warmth == 1.0
    assert result.trust == 0.0
    assert result.intrigue == pytest.approx(0.6, abs=1e-9)


def test_warmth_can_go_negative_but_no_lower_than_minus_one():
    """A2."""
    result = apply_deltas(fresh(), AffinityDeltas(warmth=-2.0), ema_inertia=0.0)

    assert result.warmth == -1.0


def test_ema_smoothing_applies_only_one_minus_inertia_of_the_delta():
    """A3: 0.3 + 0.5 * (1.0 - 0.8) is 0.39999999999999997 in doubles."""
    result = apply_deltas(fresh(), AffinityDeltas(warmth=0.5), ema_inertia=0.8)

    assert result.warmth == 0.39999999999999997


def test_repeated_ema_steps_accumulate_bit_for_bit():
    """X6."""
    affinity = fresh()
    seen = []
    for _ in range(3):
        affinity = apply_deltas(affinity, AffinityDeltas(warmth=0.5), ema_inertia=0.8)
        seen.append(affinity.warmth)

    assert seen == [0.39999999999999997, 0.49999999999999994, 0.5999999999999999]


def test_short_and_stale_reply_deltas_damp_to_exact_doubles():
    """X7: the P5 deltas (patience -0.07, tension +0.03) at inertia 0.8."""
    deltas = AffinityDeltas(patience=-0.07, tension=0.03)

    result = apply_deltas(fresh(), deltas, ema_inertia=0.8)

    assert result.patience == 0.486
    assert result.tension == 0.10600000000000001
    assert result.intrigue == 0.5


def test_apply_deltas_leaves_label_clock_and_ghost_fields_alone():
    before = fresh(
        relationship_label=RelationshipLabel.FRIEND,
        ghost_streak=1,
        total_ghosts=3,
        last_ghost_at=NOW - timedelta(hours=2),
    )

    after = apply_deltas(before, AffinityDeltas(warmth=-1.0), ema_inertia=0.0)

    assert after.relationship_label is RelationshipLabel.FRIEND
    assert after.updated_at == before.updated_at
    assert (after.ghost_streak, after.total_ghosts, after.last_ghost_at) == (
        before.ghost_streak,
        before.total_ghosts,
        before.last_ghost_at,
    )


def test_inertia_defaults_match_the_reference():
    assert EMA_INERTIA_DEFAULT == 0.8
    assert DEMO_EMA_INERTIA_DEFAULT == 0.3


# --- clamp and elapsed minutes ------------------------------------------------------------


def test_clamp_passes_nan_through_unchanged():
    assert math.isnan(clamp(math.nan, 0.0, 1.0))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-0.5, 0.0), (0.0, 0.0), (0.25, 0.25), (1.0, 1.0), (1.5, 1.0)],
)
def test_clamp_bounds_ordinary_values(value, expected):
    assert clamp(value, 0.0, 1.0) == expected


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        pytest.param(timedelta(seconds=89), 1, id="89s-is-1"),
        pytest.param(timedelta(seconds=59, microseconds=999_999), 0, id="just-under-1min-is-0"),
        pytest.param(timedelta(seconds=60), 1, id="60s-is-1"),
        pytest.param(timedelta(seconds=-89), -1, id="negative-truncates-toward-zero"),
        pytest.param(timedelta(seconds=-59), 0, id="small-negative-is-0"),
        pytest.param(timedelta(days=10), 14400, id="10-days"),
    ],
)
def test_whole_minutes_truncate_toward_zero(elapsed, expected):
    assert whole_minutes(elapsed) == expected


def test_decay_minutes_is_zero_without_a_reference_point():
    assert decay_minutes(None, NOW) == 0


# --- apply_time_decay ---------------------------------------------------------------------


def test_time_decay_reduces_intrigue_recovers_patience_softens_tension():
    """A4: ten days (14400 minutes) of drift; the other axes never decay."""
    before = written_ago(
        timedelta(days=10),
        intrigue=0.5,
        patience=0.5,
        tension=0.5,
        warmth=0.7,
        trust=0.6,
        intimacy=0.4,
    )

    after = apply_time_decay(before, now=NOW)

    assert after.intrigue == pytest.approx(0.4, abs=1e-9)
    assert after.patience == pytest.approx(0.55, abs=1e-9)
    assert after.tension == pytest.approx(0.45, abs=1e-9)
    assert after.warmth == 0.7
    assert after.trust == 0.6
    assert after.intimacy == 0.4


def test_time_decay_clamps_at_floors_and_ceilings():
    """A5."""
    before = written_ago(timedelta(days=100), intrigue=0.05, patience=0.95, tension=0.02)

    after = apply_time_decay(before, now=NOW)

    assert after.intrigue == 0.0
    assert after.patience == 1.0
    assert after.tension == 0.0


def test_time_decay_ignores_less_than_one_whole_minute():
    """X8: 59 seconds."""
    before = written_ago(timedelta(seconds=59))

    assert apply_time_decay(before, now=NOW) == before


def test_time_decay_counts_ninety_seconds_as_one_minute():
    """X9: days = 1/1440 = 0.0006944444444444445."""
    after = apply_time_decay(written_ago(timedelta(seconds=90)), now=NOW)

    assert after.intrigue == 0.49999305555555557
    assert after.patience == 0.5000034722222222
    assert after.tension == 0.09999652777777779


def test_a_week_of_decay_gives_exact_doubles():
    """X10."""
    after = apply_time_decay(written_ago(timedelta(days=7)), now=NOW)

    assert after.intrigue == 0.43
    assert after.patience == 0.535
    assert after.tension == 0.065


def test_time_decay_does_not_touch_updated_at():
    before = written_ago(timedelta(days=3))

    after = apply_time_decay(before, now=NOW)

    assert after.updated_at == NOW - timedelta(days=3)
    assert after.intrigue < before.intrigue


def test_time_decay_applied_twice_to_the_same_value_decays_twice():
    once = apply_time_decay(written_ago(timedelta(days=1)), now=NOW)

    twice = apply_time_decay(once, now=NOW)

    assert twice.intrigue < once.intrigue


def test_time_decay_does_nothing_when_updated_at_is_in_the_future():
    before = fresh(updated_at=NOW + timedelta(hours=5))

    assert apply_time_decay(before, now=NOW) == before


def test_time_decay_does_nothing_without_updated_at():
    before = Affinity()

    assert apply_time_decay(before, now=NOW) == before


# --- infer_label --------------------------------------------------------------------------


def test_infer_label_romantic_when_warm_intimate_and_tense():
    """A6."""
    assert infer_label(fresh(warmth=0.8, tension=0.4, intimacy=0.5)) is RelationshipLabel.ROMANTIC


def test_infer_label_friend_when_warm_trusted_low_tension():
    """A7."""
    assert infer_label(fresh(warmth=0.75, trust=0.7, tension=0.1)) is RelationshipLabel.FRIEND


def test_infer_label_frenemy_when_cold_tense_intrigued():
    """A8."""
    assert infer_label(fresh(warmth=0.3, tension=0.7, intrigue=0.6)) is RelationshipLabel.FRENEMY


def test_infer_label_slow_burn_when_intrigued_tense_not_yet_intimate():
    """A9: frenemy fails because tension 0.5 < 0.6."""
    affinity = fresh(intrigue=0.7, tension=0.5, intimacy=0.2)

    assert infer_label(affinity) is RelationshipLabel.SLOW_BURN


def test_infer_label_stranger_when_no_thresholds_met():
    """A10."""
    assert infer_label(fresh()) is RelationshipLabel.STRANGER


def test_romantic_thresholds_are_inclusive():
    """X11."""
    affinity = fresh(warmth=0.7, trust=0.2, intrigue=0.5, intimacy=0.4, patience=0.5, tension=0.3)

    assert infer_label(affinity) is RelationshipLabel.ROMANTIC


def test_warm_trusting_pair_with_mid_tension_falls_through_to_stranger():
    """X12: the reference's label gap is kept."""
    affinity = fresh(warmth=0.8, trust=0.7, tension=0.25, intimacy=0.5, intrigue=0.5)

    assert infer_label(affinity) is RelationshipLabel.STRANGER


# --- types --------------------------------------------------------------------------------


def test_new_affinity_has_the_database_defaults():
    affinity = Affinity()

    assert affinity.vector() == {
        "warmth": 0.3,
        "trust": 0.2,
        "intrigue": 0.5,
        "intimacy": 0.0,
        "patience": 0.5,
        "tension": 0.1,
    }
    assert (affinity.ghost_streak, affinity.total_ghosts) == (0, 0)
    assert affinity.last_ghost_at is None
    assert affinity.relationship_label is None
    assert affinity.updated_at is None


def test_axis_fields_follow_the_axes_order():
    delta_fields = tuple(f.name for f in dataclasses.fields(AffinityDeltas))
    affinity_fields = tuple(f.name for f in dataclasses.fields(Affinity))[: len(AXES)]

    assert delta_fields == AXES
    assert affinity_fields == AXES
    assert tuple(Affinity().vector()) == AXES
    assert tuple(AffinityDeltas().as_dict()) == AXES


def test_deltas_from_mapping_fill_missing_axes_and_ignore_unknown_keys():
    deltas = AffinityDeltas.from_mapping({"warmth": 0.1, "tension": -1, "mood": 9.0})

    assert deltas == AffinityDeltas(warmth=0.1, tension=-1.0)
    assert isinstance(deltas.tension, float)


def test_deltas_round_trip_through_a_dict():
    deltas = AffinityDeltas(warmth=0.1, trust=-0.2, intrigue=0.3, patience=0.4, tension=0.5)

    assert AffinityDeltas.from_mapping(deltas.as_dict()) == deltas


def test_deltas_add_axis_by_axis_left_to_right():
    total = AffinityDeltas(patience=-0.02) + AffinityDeltas(patience=-0.05, tension=0.03)

    assert total == AffinityDeltas(patience=-0.07, tension=0.03)
    assert (AffinityDeltas(patience=0.02) + AffinityDeltas(patience=-0.05)).patience == (
        -0.030000000000000002
    )


def test_labels_are_stored_in_snake_case():
    assert [label.value for label in RelationshipLabel] == [
        "stranger",
        "romantic",
        "friend",
        "frenemy",
        "slow_burn",
    ]
    assert RelationshipLabel("slow_burn") is RelationshipLabel.SLOW_BURN
