"""The ghost check against reference vectors G1-G7 and X1-X5 (eros-engine-core.md §5)."""

import pytest

from companions.domain.ghost import (
    BASE_THRESHOLD,
    COOLDOWN_HOURS,
    MIN_MESSAGES,
    RAISED_THRESHOLD,
    STREAK_CAP,
    GhostDecision,
    GhostSignals,
    decide,
    ghost_rule,
    ghost_score,
)
from companions.domain.types import Affinity


def aff(intrigue: float, patience: float, tension: float, ghost_streak: int) -> Affinity:
    """The reference fixture: warmth 0.3, trust 0.2, intimacy 0.0, never ghosted."""
    return Affinity(
        warmth=0.3,
        trust=0.2,
        intimacy=0.0,
        intrigue=intrigue,
        patience=patience,
        tension=tension,
        ghost_streak=ghost_streak,
    )


def test_never_ghost_when_message_count_below_10():
    """G1."""
    affinity, signals = aff(0.0, 0.0, 1.0, 0), GhostSignals(5, None)

    assert ghost_score(affinity) == 1.0
    assert decide(affinity, signals) is GhostDecision.REPLY
    assert ghost_rule(affinity, signals) == "too_new"


def test_third_consecutive_ghost_is_blocked():
    """G2: at streak 2 the answer is always reply."""
    affinity, signals = aff(0.0, 0.0, 1.0, 2), GhostSignals(50, 0.5)

    assert decide(affinity, signals) is GhostDecision.REPLY
    assert ghost_rule(affinity, signals) == "streak_cap"


def test_cooldown_blocks_ghost_within_one_hour():
    """G3."""
    affinity, signals = aff(0.0, 0.0, 1.0, 1), GhostSignals(50, 0.5)

    assert decide(affinity, signals) is GhostDecision.REPLY
    assert ghost_rule(affinity, signals) == "cooldown"


def test_ghost_when_score_above_base_threshold_after_protections():
    """G4: 0.8200000000000001 > 0.65."""
    affinity, signals = aff(0.1, 0.1, 0.5, 0), GhostSignals(50, None)

    assert ghost_score(affinity) == 0.8200000000000001
    assert decide(affinity, signals) is GhostDecision.GHOST
    assert ghost_rule(affinity, signals) == "above_threshold"


def test_raised_threshold_after_a_ghost_blocks_a_mid_score():
    """G5: 0.4 <= 0.85."""
    affinity, signals = aff(0.5, 0.5, 0.0, 1), GhostSignals(50, 2.0)

    assert ghost_score(affinity) == 0.4
    assert decide(affinity, signals) is GhostDecision.REPLY
    assert ghost_rule(affinity, signals) == "below_threshold"


def test_high_score_is_blocked_by_the_raised_threshold_after_a_ghost():
    """G6: 0.76 would ghost at 0.65 but not at 0.85."""
    affinity, signals = aff(0.05, 0.05, 0.0, 1), GhostSignals(50, 2.0)

    assert ghost_score(affinity) == 0.76
    assert decide(affinity, signals) is GhostDecision.REPLY
    assert ghost_rule(affinity, signals) == "below_threshold"


def test_ghost_score_weighs_intrigue_patience_and_tension():
    """G7: 0.6*0.4 + 0.4*0.4 + 0.5*0.2 = 0.5."""
    assert ghost_score(aff(0.4, 0.6, 0.5, 0)) == pytest.approx(0.5, abs=1e-9)


def test_new_session_scores_just_above_point_four_two():
    """X1."""
    assert ghost_score(Affinity()) == 0.42000000000000004


def test_raised_threshold_never_decays():
    """X2: a month after the last ghost, 0.82 still does not clear 0.85."""
    affinity, signals = aff(0.1, 0.1, 0.5, 0), GhostSignals(50, 720.0)

    assert decide(affinity, signals) is GhostDecision.REPLY
    assert ghost_rule(affinity, signals) == "below_threshold"


def test_tenth_message_can_be_ghosted():
    """X3."""
    affinity, signals = aff(0.1, 0.1, 0.5, 0), GhostSignals(10, None)

    assert decide(affinity, signals) is GhostDecision.GHOST


def test_exactly_one_hour_after_a_ghost_is_no_longer_cooldown():
    """X4: score 1.0 > 0.85."""
    affinity, signals = aff(0.0, 0.0, 1.0, 1), GhostSignals(50, 1.0)

    assert decide(affinity, signals) is GhostDecision.GHOST
    assert ghost_rule(affinity, signals) == "above_threshold"


def test_second_consecutive_ghost_is_allowed_above_the_raised_threshold():
    """X5: 0.86 > 0.85 at streak 1."""
    affinity, signals = aff(0.05, 0.05, 0.5, 1), GhostSignals(50, 3.0)

    assert ghost_score(affinity) == 0.86
    assert decide(affinity, signals) is GhostDecision.GHOST


def test_protection_rules_run_in_order():
    """A too-new session reports too_new even when streak and cooldown would also block."""
    affinity, signals = aff(0.0, 0.0, 1.0, 2), GhostSignals(3, 0.1)

    assert ghost_rule(affinity, signals) == "too_new"


def test_ghost_constants_match_the_reference():
    assert (MIN_MESSAGES, STREAK_CAP, COOLDOWN_HOURS) == (10, 2, 1.0)
    assert (BASE_THRESHOLD, RAISED_THRESHOLD) == (0.65, 0.85)
