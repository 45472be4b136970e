"""Post-process of a replied turn: the affinity update (DESIGN §5, §9 item 5).

The LLM evaluator (task ``affinity_evaluation``) proposes per-turn deltas for warmth, trust,
intrigue, intimacy and tension, each bounded to ±0.15; patience stays rule-owned (PDE). When
the evaluator is skipped, fails or answers something that does not validate, the PDE's rule
deltas are used, and the event's ``context.source`` says which (``llm`` or ``rules``).
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from companions.domain import pde
from companions.domain.types import AffinityDeltas, ConversationSignals, UserMessage
from companions.models import ChatMessage, ChatSession, CompanionAffinityEvent
from companions.services import affinity as affinity_service
from eros.llm.base import TASK_AFFINITY, ChatModel, ChatRequest, ProviderError
from eros.llm.base import ChatMessage as LlmMessage
from eros.llm.jsonblock import parse_json_object
from eros.llm.providers import get_chat_model, get_model_config

logger = logging.getLogger(__name__)

DELTA_BOUND = 0.15
EVALUATED_AXES = ("warmth", "trust", "intrigue", "intimacy", "tension")
MIN_EVALUATED_CHARS = 4


class AffinityEvaluation(BaseModel):
    """The evaluator's answer: per-turn changes in [-0.15, 0.15] and a short reason."""

    model_config = ConfigDict(extra="ignore")

    warmth: float = 0.0
    trust: float = 0.0
    intrigue: float = 0.0
    intimacy: float = 0.0
    tension: float = 0.0
    reason: str = ""

    @field_validator("warmth", "trust", "intrigue", "intimacy", "tension", mode="before")
    @classmethod
    def _number(cls, value):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError("must be a finite number")
        return max(-DELTA_BOUND, min(DELTA_BOUND, float(value)))

    @field_validator("reason", mode="before")
    @classmethod
    def _reason(cls, value):
        return str(value)[:300] if value is not None else ""


@dataclass(frozen=True)
class Turn:
    session: ChatSession
    user_message: ChatMessage
    assistant_message: ChatMessage | None


def turn_load(user_message_id: uuid.UUID | str) -> Turn | None:
    """The stored turn (session, user message, reply) or None when it no longer exists."""
    user_message = (
        ChatMessage.objects.select_related("session")
        .filter(id=user_message_id, role=ChatMessage.ROLE_USER)
        .first()
    )
    if user_message is None:
        return None
    reply = (
        ChatMessage.objects.filter(
            session_id=user_message.session_id,
            reply_to_id=user_message.id,
            role=ChatMessage.ROLE_ASSISTANT,
        )
        .order_by("sent_at")
        .first()
    )
    return Turn(user_message.session, user_message, reply)


def _evaluate(turn: Turn, chat_model: ChatModel, vector: dict[str, float]) -> AffinityEvaluation:
    resolved = get_model_config().resolve(TASK_AFFINITY)
    reply = turn.assistant_message.content if turn.assistant_message else ""
    prompt = (
        "You judge how one exchange changed a companion's feelings toward the user.\n"
        "Current values: "
        + ", ".join(f"{k}={v:.2f}" for k, v in vector.items() if k != "patience")
        + "\nwarmth ranges -1..1, the others 0..1.\n"
        f"User: {turn.user_message.content}\nCompanion: {reply}\n"
        'Answer with JSON only: {"warmth": 0.0, "trust": 0.0, "intrigue": 0.0, '
        '"intimacy": 0.0, "tension": 0.0, "reason": "one short sentence"} where each '
        "number is this turn's change, between -0.15 and 0.15."
    )
    request = ChatRequest(
        task=TASK_AFFINITY,
        model=resolved.model,
        fallback_model=resolved.fallback_model,
        messages=(LlmMessage("user", prompt),),
        temperature=resolved.temperature,
        max_tokens=resolved.max_tokens,
        payload={"user_message": turn.user_message.content, "reply": reply, "affinity": vector},
    )
    result = chat_model.complete(request)
    data = parse_json_object(result.text)
    if data is None:
        raise ValueError("evaluator answer holds no JSON object")
    return AffinityEvaluation.model_validate(data)


def affinity_update_turn(
    *, user_message_id: uuid.UUID | str, chat_model: ChatModel | None = None
) -> CompanionAffinityEvent | None:
    """Apply the turn's affinity deltas once (idempotent per user message); return the event."""
    turn = turn_load(user_message_id)
    if turn is None or turn.user_message.turn_status != ChatMessage.TURN_REPLIED:
        return None
    already = CompanionAffinityEvent.objects.filter(
        affinity__session_id=turn.session.id,
        context__user_message_id=str(turn.user_message.id),
    ).first()
    if already is not None:
        return already

    now = timezone.now()
    row = affinity_service.affinity_get_or_create(session=turn.session)
    vector = affinity_service.decayed_view(row, now=now).vector()
    stored_plan = (
        (turn.assistant_message.context or {}).get("plan", {}) if turn.assistant_message else {}
    )
    rule_deltas = AffinityDeltas.from_mapping(stored_plan.get("rule_deltas") or {})
    if not stored_plan:
        rule_deltas = pde.predict_reply_deltas(
            UserMessage(turn.user_message.content), ConversationSignals(message_count=0)
        )

    context: dict = {"user_message_id": str(turn.user_message.id), "source": "rules"}
    deltas = rule_deltas
    reply = turn.assistant_message.content if turn.assistant_message else ""
    if len(turn.user_message.content.strip()) >= MIN_EVALUATED_CHARS and reply.strip():
        try:
            evaluation = _evaluate(turn, chat_model or get_chat_model(), vector)
        except (ProviderError, ValueError, ValidationError) as exc:
            context["fallback_reason"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            logger.info("affinity evaluator unavailable for %s: %s", turn.user_message.id, exc)
        else:
            deltas = AffinityDeltas(
                warmth=evaluation.warmth,
                trust=evaluation.trust,
                intrigue=evaluation.intrigue,
                intimacy=evaluation.intimacy,
                patience=rule_deltas.patience,  # patience stays rule-owned
                tension=evaluation.tension,
            )
            context.update({"source": "llm", "reason": evaluation.reason})
    else:
        context["fallback_reason"] = "message too short to evaluate"

    _, event = affinity_service.affinity_apply_deltas(
        session=turn.session, deltas=deltas, event_type="message", context=context, now=now
    )
    return event
