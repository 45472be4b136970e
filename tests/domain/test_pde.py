"""The decision engine against reference vectors P1-P8 and X13-X17 (eros-engine-core.md §5)."""

import dataclasses
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from companions.domain.pde import (
    RECOGNISED_TIP_PERSONALITIES,
    decide,
    pick_gift_style,
    predict_reply_deltas,
)
from companions.domain.types import (
    ActionPlan,
    ActionType,
    Affinity,
    AffinityDeltas,
    AppOpen,
    ConversationSignals,
    DecisionInput,
    Gift,
    PersonaTraits,
    ProactiveTrigger,
    ReplyStyle,
    UserMessage,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

NO_DELTAS = AffinityDeltas()
LONG_TEXT = "deep content" * 10  # 120 characters

# The reference's base fixtures. Its score is 0.42000000000000004.
BASE_AFFINITY = Affinity(
    warmth=0.4, trust=0.3, intrigue=0.5, intimacy=0.2, patience=0.5, tension=0.1
)
# A prior ghost 10 h ago, so the raised 0.85 threshold applies.
BASE_SIGNALS = ConversationSignals(
    message_count=20, hours_since_last_message=1.0, ghost_streak=0, hours_since_last_ghost=10.0
)
BASE_PERSONA = PersonaTraits(name="Mia", tip_personality="normal")
# Score 0.86: clears even the raised threshold.
GHOST_WORTHY = dataclasses.replace(BASE_AFFINITY, intrigue=0.05, patience=0.05, tension=0.5)


def user_msg(content: str) -> UserMessage:
    return UserMessage(content=content, message_id=uuid.uuid4())


def plan_for(
    event,
    *,
    affinity: Affinity = BASE_AFFINITY,
    signals: ConversationSignals = BASE_SIGNALS,
    persona: PersonaTraits = BASE_PERSONA,
) -> ActionPlan:
    return decide(DecisionInput(event=event, affinity=affinity, persona=persona, signals=signals))


def with_signals(**overrides) -> ConversationSignals:
    return dataclasses.replace(BASE_SIGNALS, **overrides)


# --- reference tests P1-P8 ----------------------------------------------------------------


def test_gift_event_maps_to_gift_reaction():
    """P1."""
    plan = plan_for(
        Gift(gift_id=uuid.uuid4(), amount=50),
        persona=PersonaTraits(name="Mia", tip_personality="gold_digger"),
    )

    assert plan.action_type is ActionType.GIFT_REACTION
    assert plan.reply_style is ReplyStyle.EXCITED
    assert plan.energy_cost == 0.05
    assert plan.affinity_deltas == NO_DELTAS


def test_ghost_threshold_triggers_ghost_action():
    """P2: score 0.86 > 0.85."""
    plan = plan_for(user_msg("."), affinity=GHOST_WORTHY)

    assert plan.action_type is ActionType.GHOST
    assert plan.reply_style is ReplyStyle.COLD
    assert plan.affinity_deltas == AffinityDeltas(patience=-0.05, tension=0.05)
    assert plan.energy_cost == 0.0


def test_new_relationship_never_ghosts():
    """P3: five characters, not stale, so the reply carries no deltas."""
    plan = plan_for(user_msg("hello"), affinity=GHOST_WORTHY, signals=with_signals(message_count=3))

    assert plan.action_type is ActionType.REPLY
    assert plan.reply_style is ReplyStyle.NEUTRAL
    assert plan.affinity_deltas == NO_DELTAS
    assert plan.energy_cost == 0.05


def test_long_message_predicts_positive_intrigue():
    """P4: 120 characters."""
    plan = plan_for(user_msg(LONG_TEXT))

    assert plan.action_type is ActionType.REPLY
    assert plan.affinity_deltas.intrigue > 0
    assert plan.affinity_deltas == AffinityDeltas(intrigue=0.02, patience=0.02)


def test_long_absence_penalises_patience():
    """P5: "hey" is short (3 characters) and 48 h is stale."""
    plan = plan_for(user_msg("hey"), signals=with_signals(hours_since_last_message=48.0))

    assert plan.affinity_deltas.patience < 0
    assert plan.affinity_deltas == AffinityDeltas(patience=-0.07, tension=0.03)


def test_app_open_does_not_reply_and_has_zero_cost():
    """P6."""
    plan = plan_for(AppOpen())

    assert plan.action_type is ActionType.PROACTIVE
    assert plan.reply_style is ReplyStyle.NEUTRAL
    assert plan.energy_cost == 0.0


def test_short_message_and_stale_conversation_both_cost_patience():
    """P7: -0.02 + -0.05."""
    plan = plan_for(user_msg("k"), signals=with_signals(hours_since_last_message=48.0))

    assert plan.affinity_deltas.patience == -0.07
    assert plan.affinity_deltas.tension == 0.03


def test_unknown_tip_personality_falls_back_to_warm():
    """P8."""
    plan = plan_for(Gift(amount=10), persona=PersonaTraits(name="Mia", tip_personality=None))

    assert plan.reply_style is ReplyStyle.WARM


# --- extra vectors X13-X17 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("x" * 30, AffinityDeltas(intrigue=0.02, patience=0.02), id="X13-30-chars"),
        pytest.param("x" * 29, NO_DELTAS, id="X13-29-chars"),
        pytest.param("x" * 4, NO_DELTAS, id="X13-4-chars"),
        pytest.param("", AffinityDeltas(patience=-0.02), id="X13-empty"),
    ],
)
def test_message_length_boundaries_decide_the_reply_deltas(content, expected):
    plan = plan_for(user_msg(content))

    assert plan.action_type is ActionType.REPLY
    assert plan.affinity_deltas == expected


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        pytest.param(24.0, AffinityDeltas(intrigue=0.02, patience=0.02), id="X14-24h-not-stale"),
        pytest.param(
            24.01,
            AffinityDeltas(intrigue=0.02, patience=-0.030000000000000002, tension=0.03),
            id="X14-24.01h-stale",
        ),
    ],
)
def test_a_conversation_is_stale_only_after_more_than_24_hours(hours, expected):
    plan = plan_for(user_msg(LONG_TEXT), signals=with_signals(hours_since_last_message=hours))

    assert plan.affinity_deltas == expected


def test_gifts_are_never_ghosted():
    """X15."""
    plan = plan_for(Gift(amount=50), affinity=GHOST_WORTHY)

    assert plan.action_type is ActionType.GIFT_REACTION


@pytest.mark.parametrize(
    ("affinity", "expected"),
    [
        pytest.param(
            BASE_AFFINITY,
            ActionPlan(ActionType.PROACTIVE, ReplyStyle.NEUTRAL, NO_DELTAS, 0.10),
            id="X16-benign",
        ),
        pytest.param(
            GHOST_WORTHY,
            ActionPlan(
                ActionType.GHOST,
                ReplyStyle.COLD,
                AffinityDeltas(patience=-0.05, tension=0.05),
                0.0,
            ),
            id="X16-ghost-worthy",
        ),
    ],
)
def test_proactive_trigger_passes_through_the_ghost_check(affinity, expected):
    assert plan_for(ProactiveTrigger(), affinity=affinity) == expected


@pytest.mark.parametrize(
    ("tip", "expected"),
    [
        pytest.param("tsundere", ReplyStyle.TSUNDERE, id="X17-tsundere"),
        pytest.param("zen", ReplyStyle.NEUTRAL, id="X17-zen"),
        pytest.param("slow_warm", ReplyStyle.WARM, id="X17-slow_warm"),
        pytest.param("warm-but-reserved", ReplyStyle.WARM, id="X17-warm-but-reserved"),
    ],
)
def test_gift_style_follows_the_tip_personality(tip, expected):
    assert pick_gift_style(tip) is expected
    assert plan_for(Gift(), persona=PersonaTraits(name="Mia", tip_personality=tip)).reply_style is (
        expected
    )


# --- further behaviour --------------------------------------------------------------------


def test_app_open_can_be_ghosted_too():
    assert plan_for(AppOpen(), affinity=GHOST_WORTHY).action_type is ActionType.GHOST


def test_ghost_check_reads_the_streak_from_the_affinity_not_the_signals():
    capped = dataclasses.replace(GHOST_WORTHY, ghost_streak=2)

    plan = plan_for(user_msg("."), affinity=capped, signals=with_signals(ghost_streak=0))

    assert plan.action_type is ActionType.REPLY


def test_context_hints_are_always_empty():
    events = [user_msg("hi"), Gift(), ProactiveTrigger(), AppOpen()]

    assert all(plan_for(event).context_hints == () for event in events)


def test_stale_rule_applies_to_any_event_in_predict_reply_deltas():
    deltas = predict_reply_deltas(AppOpen(), with_signals(hours_since_last_message=30.0))

    assert deltas == AffinityDeltas(patience=-0.05, tension=0.03)


def test_unknown_event_type_is_rejected():
    with pytest.raises(TypeError):
        plan_for("hello")


def test_recognised_tip_personalities_are_the_reference_four():
    assert RECOGNISED_TIP_PERSONALITIES == ("gold_digger", "tsundere", "zen", "slow_warm")
    assert pick_gift_style("gold_digger") is ReplyStyle.EXCITED
    assert pick_gift_style(None) is ReplyStyle.WARM


def test_domain_imports_only_the_standard_library():
    """Importing the domain in a fresh interpreter pulls in no third-party or app module."""
    code = textwrap.dedent(
        """
        import sys
        before = set(sys.modules)
        import companions.domain.affinity, companions.domain.ghost
        import companions.domain.pde, companions.domain.types
        roots = {name.partition(".")[0] for name in set(sys.modules) - before}
        print(sorted(r for r in roots if r not in sys.stdlib_module_names))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip() == "['companions']"
