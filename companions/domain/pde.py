"""The Persona Decision Engine (PDE): rules that turn one event into an action plan.

Deterministic and pure; reference eros-engine-core.md §1.5. The caller gathers the inputs
(affinity already decayed to now, signals from chat history), calls `decide`, then acts.
"""

from __future__ import annotations

from companions.domain import ghost
from companions.domain.types import (
    ActionPlan,
    ActionType,
    AffinityDeltas,
    AppOpen,
    ConversationSignals,
    DecisionInput,
    Event,
    Gift,
    ProactiveTrigger,
    ReplyStyle,
    UserMessage,
)

# Message length in Unicode code points (Python `len`, same as Rust `chars().count()`).
LONG_MSG_CHARS = 30  # >= counts as long
SHORT_MSG_CHARS = 3  # <= counts as short, including the empty string
STALE_HOURS = 24.0  # strictly greater counts as stale

INTRIGUE_LONG_BUMP = 0.02
PATIENCE_LONG_BUMP = 0.02
PATIENCE_SHORT_PENALTY = -0.02
PATIENCE_STALE_PENALTY = -0.05
TENSION_STALE_BUMP = 0.03

ENERGY_COST_REPLY = 0.05
ENERGY_COST_GIFT = 0.05
ENERGY_COST_PROACTIVE = 0.10
ENERGY_COST_GHOST = 0.0
ENERGY_COST_APP_OPEN = 0.0

GHOST_DELTA_PATIENCE = -0.05
GHOST_DELTA_TENSION = 0.05

RECOGNISED_TIP_PERSONALITIES = ("gold_digger", "tsundere", "zen", "slow_warm")

_GIFT_STYLES = {
    "gold_digger": ReplyStyle.EXCITED,
    "tsundere": ReplyStyle.TSUNDERE,
    "zen": ReplyStyle.NEUTRAL,
    "slow_warm": ReplyStyle.WARM,
}

_KNOWN_EVENTS = (UserMessage, Gift, ProactiveTrigger, AppOpen)

_NO_DELTAS = AffinityDeltas()


def pick_gift_style(tip_personality: str | None) -> ReplyStyle:
    """Return the tone for reacting to a gift.

    gold_digger -> excited, tsundere -> tsundere, zen -> neutral, slow_warm -> warm;
    anything else, including None, -> warm. Reference eros-engine-core.md §1.5.
    """
    if tip_personality is None:
        return ReplyStyle.WARM
    return _GIFT_STYLES.get(tip_personality, ReplyStyle.WARM)


def predict_reply_deltas(event: Event, signals: ConversationSignals) -> AffinityDeltas:
    """Return the rule-based affinity deltas predicted for a reply turn.

    Long message (>= 30 chars): intrigue +0.02, patience +0.02; short (<= 3 chars): patience
    -0.02; then, for any event, stale (> 24.0 h since the previous message): patience -0.05,
    tension +0.03. Raw deltas, before EMA damping. Reference eros-engine-core.md §1.5.
    """
    # Accumulate from 0.0 in the reference's order so the sums are bit-identical
    # (short + stale patience is -0.07; long + stale is -0.030000000000000002).
    intrigue = 0.0
    patience = 0.0
    tension = 0.0
    if isinstance(event, UserMessage):
        n = len(event.content)
        if n >= LONG_MSG_CHARS:
            intrigue += INTRIGUE_LONG_BUMP
            patience += PATIENCE_LONG_BUMP
        elif n <= SHORT_MSG_CHARS:
            patience += PATIENCE_SHORT_PENALTY
    if signals.hours_since_last_message > STALE_HOURS:
        patience += PATIENCE_STALE_PENALTY
        tension += TENSION_STALE_BUMP
    return AffinityDeltas(intrigue=intrigue, patience=patience, tension=tension)


def decide(inp: DecisionInput) -> ActionPlan:
    """Return the action plan for one event.

    First match wins: a gift gets a gift reaction (gifts are never ghosted); then the ghost
    check (which also applies to proactive triggers and app opens); then ProactiveTrigger
    and AppOpen become proactive; a user message gets a neutral reply with the rule deltas.
    `context_hints` is always empty. Raises TypeError for an event that is not one of the
    four `types.Event` classes. Reference eros-engine-core.md §1.5.
    """
    event = inp.event
    if not isinstance(event, _KNOWN_EVENTS):
        raise TypeError(f"unsupported event type: {type(event).__name__}")

    if isinstance(event, Gift):
        return ActionPlan(
            action_type=ActionType.GIFT_REACTION,
            reply_style=pick_gift_style(inp.persona.tip_personality),
            affinity_deltas=_NO_DELTAS,
            energy_cost=ENERGY_COST_GIFT,
        )

    ghost_signals = ghost.GhostSignals(
        message_count=inp.signals.message_count,
        hours_since_last_ghost=inp.signals.hours_since_last_ghost,
    )
    if ghost.decide(inp.affinity, ghost_signals) is ghost.GhostDecision.GHOST:
        # The reference drops these deltas (its ghost write touches only the counters);
        # eros applies them so being ghosted has a cost for the relationship (DESIGN §9.3).
        return ActionPlan(
            action_type=ActionType.GHOST,
            reply_style=ReplyStyle.COLD,
            affinity_deltas=AffinityDeltas(
                patience=GHOST_DELTA_PATIENCE, tension=GHOST_DELTA_TENSION
            ),
            energy_cost=ENERGY_COST_GHOST,
        )

    if isinstance(event, ProactiveTrigger):
        return ActionPlan(
            action_type=ActionType.PROACTIVE,
            reply_style=ReplyStyle.NEUTRAL,
            affinity_deltas=_NO_DELTAS,
            energy_cost=ENERGY_COST_PROACTIVE,
        )

    if isinstance(event, AppOpen):
        return ActionPlan(
            action_type=ActionType.PROACTIVE,
            reply_style=ReplyStyle.NEUTRAL,
            affinity_deltas=_NO_DELTAS,
            energy_cost=ENERGY_COST_APP_OPEN,
        )

    return reply_plan(event, inp.signals)


def reply_plan(event: UserMessage, signals: ConversationSignals) -> ActionPlan:
    """The plan `decide` gives a user message it answers: a neutral reply with the rule deltas.

    Also the plan of a replied turn answered anew (a regenerated reply), which is not
    decided again.
    """
    return ActionPlan(
        action_type=ActionType.REPLY,
        reply_style=ReplyStyle.NEUTRAL,
        affinity_deltas=predict_reply_deltas(event, signals),
        energy_cost=ENERGY_COST_REPLY,
    )
