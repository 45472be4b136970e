"""The deterministic ghost decision: whether the companion leaves a message unanswered.

A score built from low intrigue, low patience and high tension is compared with a threshold,
behind four protection rules. Reference eros-engine-core.md §1.4.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from companions.domain.types import Affinity

# Strict `<`: the 10th user message (the count includes the current one) is the first that
# can be ghosted.
MIN_MESSAGES = 10
# `>=`: two consecutive ghosts are allowed, the third is blocked.
STREAK_CAP = 2
# Strict `<`: exactly 1.0 h after the last ghost is no longer cooldown.
COOLDOWN_HOURS = 1.0
BASE_THRESHOLD = 0.65
# Used whenever the session has ever ghosted; `last_ghost_at` is never cleared, so this bar
# stays raised for the rest of the session.
RAISED_THRESHOLD = 0.85

INTRIGUE_WEIGHT = 0.4
PATIENCE_WEIGHT = 0.4
TENSION_WEIGHT = 0.2

# Names of the rule that decided, shown to operators.
RULE_TOO_NEW = "too_new"
RULE_STREAK_CAP = "streak_cap"
RULE_COOLDOWN = "cooldown"
RULE_ABOVE_THRESHOLD = "above_threshold"
RULE_BELOW_THRESHOLD = "below_threshold"


@dataclass(frozen=True)
class GhostSignals:
    """The conversation facts the ghost check reads.

    `message_count` counts user messages including the current one; `hours_since_last_ghost`
    is whole minutes / 60.0 since the last ghost, or None if the session never ghosted.
    """

    message_count: int
    hours_since_last_ghost: float | None


class GhostDecision(StrEnum):
    """Outcome of the ghost check."""

    GHOST = "ghost"
    REPLY = "reply"


def ghost_score(affinity: Affinity) -> float:
    """Return the ghost score `(1 - intrigue)*0.4 + (1 - patience)*0.4 + tension*0.2`.

    In [0, 1] when the axes are in range; a new session scores 0.42000000000000004.
    Evaluated left to right as in reference eros-engine-core.md §1.4.
    """
    return (
        (1.0 - affinity.intrigue) * INTRIGUE_WEIGHT
        + (1.0 - affinity.patience) * PATIENCE_WEIGHT
        + affinity.tension * TENSION_WEIGHT
    )


def ghost_rule(affinity: Affinity, signals: GhostSignals) -> str:
    """Return the name of the rule that decides this turn.

    One of "too_new", "streak_cap", "cooldown" (all mean reply), "above_threshold" (ghost)
    or "below_threshold" (reply). Rules run in the order of reference eros-engine-core.md
    §1.4; the streak is read from the affinity, not from the signals.
    """
    if signals.message_count < MIN_MESSAGES:
        return RULE_TOO_NEW
    if affinity.ghost_streak >= STREAK_CAP:
        return RULE_STREAK_CAP
    hours = signals.hours_since_last_ghost
    if hours is not None and hours < COOLDOWN_HOURS:
        return RULE_COOLDOWN
    threshold = BASE_THRESHOLD if hours is None else RAISED_THRESHOLD
    # Strictly greater: a score equal to the threshold replies.
    if ghost_score(affinity) > threshold:
        return RULE_ABOVE_THRESHOLD
    return RULE_BELOW_THRESHOLD


def decide(affinity: Affinity, signals: GhostSignals) -> GhostDecision:
    """Return GHOST or REPLY for this turn.

    GHOST only when no protection rule applies and the score is strictly above the
    threshold (0.65, or 0.85 once the session has ghosted). Reference eros-engine-core.md §1.4.
    """
    if ghost_rule(affinity, signals) == RULE_ABOVE_THRESHOLD:
        return GhostDecision.GHOST
    return GhostDecision.REPLY
