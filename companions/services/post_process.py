"""Post-process of a replied turn: the affinity and insight parts (DESIGN §5, §9 item 5).

Each part loads the turn once (:func:`turn_load`) and hands the memory and insight apps plain
values; the session's lead score, a companions column, is written here. The insight part
also writes the turn's memories from what its extraction read (:func:`insight_update_turn`),
so memories cost no model call of their own.

The affinity part: the LLM evaluator (task ``affinity_evaluation``) proposes per-turn deltas
for warmth, trust, intrigue, intimacy and tension, each bounded to ±0.15; patience stays
rule-owned (PDE). When the evaluator is skipped, fails or answers something that does not
validate, the PDE's rule deltas are used, and the event's ``context.source`` says which
(``llm``, ``offline`` when the offline heuristics answered instead of a model, or
``rules``), with ``fallback_reason`` when the rules stood in. The evaluator is
asked outside any transaction; the deltas are then EMA-applied under the affinity row lock,
once per user message.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from companions.domain import pde
from companions.domain.types import AffinityDeltas, ConversationSignals, UserMessage
from companions.models import ChatMessage, ChatSession, CompanionAffinityEvent
from companions.services import affinity as affinity_service
from eros.llm.base import (
    TASK_AFFINITY,
    ChatModel,
    ChatRequest,
    ChatResult,
    Embedder,
    ProviderError,
)
from eros.llm.base import ChatMessage as LlmMessage
from eros.llm.jsonblock import parse_json_object
from eros.llm.providers import get_chat_model, get_model_config
from insights.selectors import insight_training_level
from insights.services import insight_merge, insight_read_exchange, insight_structure
from memory.models import CompanionMemory
from memory.services import (
    TurnMemories,
    memory_reconcile_slots,
    memory_turn_prepare,
    memory_upsert_many,
)
from memory.slots import PROFILE_SLOTS

logger = logging.getLogger(__name__)

DELTA_BOUND = 0.15
EVALUATED_AXES = ("warmth", "trust", "intrigue", "intimacy", "tension")
MIN_EVALUATED_CHARS = 4
MAX_REASON_CHARS = 300

# An affinity event's ``context.source``: who proposed its deltas.
SOURCE_LLM = "llm"
SOURCE_OFFLINE = "offline"
SOURCE_RULES = "rules"


class AffinityEvaluation(BaseModel):
    """The evaluator's answer: per-turn changes clamped to [-0.15, 0.15] and a short reason.

    Each axis, when present, must be a finite JSON number (``true``, ``"0.1"``, ``NaN`` are
    refused); a missing axis means no change, but at least one of the five must be present.
    ``patience`` and unknown keys are ignored. ``reason`` must be a string (whitespace
    collapsed, at most 300 characters). Invalid answers raise ``ValidationError``.
    """

    model_config = ConfigDict(extra="ignore")

    warmth: float = 0.0
    trust: float = 0.0
    intrigue: float = 0.0
    intimacy: float = 0.0
    tension: float = 0.0
    reason: str = ""

    @field_validator(*EVALUATED_AXES, mode="before")
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
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return " ".join(value.split())[:MAX_REASON_CHARS]

    @model_validator(mode="before")
    @classmethod
    def _some_axis(cls, data):
        if isinstance(data, dict) and not any(axis in data for axis in EVALUATED_AXES):
            raise ValueError(f"none of {', '.join(EVALUATED_AXES)} in the answer")
        return data


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


def _evaluate(
    turn: Turn, chat_model: ChatModel, vector: dict[str, float]
) -> tuple[AffinityEvaluation, ChatResult]:
    """Ask the evaluator; returns the validated answer and the completion that held it.

    Raises ``ProviderError`` (the call failed), ``ValueError`` (no JSON object in the answer)
    or ``ValidationError`` (the object does not fit :class:`AffinityEvaluation`).
    """
    resolved = get_model_config().resolve(TASK_AFFINITY)
    reply = turn.assistant_message.content if turn.assistant_message else ""
    # The exchange's texts are quoted as JSON strings: each is one line, read back exactly.
    prompt = (
        "You judge how one exchange changed a companion's feelings toward the user.\n"
        "Current values: "
        + ", ".join(f"{k}={v:.2f}" for k, v in vector.items() if k != "patience")
        + "\nwarmth ranges -1..1, the others 0..1. Patience is not yours to judge.\n"
        f"User: {json.dumps(turn.user_message.content, ensure_ascii=False)}\n"
        f"Companion: {json.dumps(reply, ensure_ascii=False)}\n"
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
    )
    result = chat_model.complete(request)
    data = parse_json_object(result.text)
    if data is None:
        raise ValueError("evaluator answer holds no JSON object")
    return AffinityEvaluation.model_validate(data), result


def _event_for(turn: Turn) -> CompanionAffinityEvent | None:
    return CompanionAffinityEvent.objects.filter(
        affinity__session_id=turn.session.id,
        context__user_message_id=str(turn.user_message.id),
    ).first()


def affinity_update_turn(
    *, user_message_id: uuid.UUID | str, chat_model: ChatModel | None = None
) -> CompanionAffinityEvent | None:
    """Apply a replied turn's affinity deltas once; return the ``message`` event.

    Returns None when the message is gone or was not replied to, and the existing event when
    the turn was already applied (idempotent per user message, also under concurrent runs:
    the check is repeated under the row lock). The event's ``context`` holds
    ``user_message_id``, ``source`` (``llm``, ``offline`` or ``rules``), and either ``reason``
    and ``model`` (llm, offline) or ``fallback_reason`` (rules). Evaluator failures never raise.
    """
    turn = turn_load(user_message_id)
    if turn is None or turn.user_message.turn_status != ChatMessage.TURN_REPLIED:
        return None
    already = _event_for(turn)
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

    context: dict = {"user_message_id": str(turn.user_message.id), "source": SOURCE_RULES}
    deltas = rule_deltas
    reply = turn.assistant_message.content if turn.assistant_message else ""
    if len(turn.user_message.content.strip()) >= MIN_EVALUATED_CHARS and reply.strip():
        try:
            evaluation, result = _evaluate(turn, chat_model or get_chat_model(), vector)
        except (ProviderError, ValueError, ValidationError) as exc:
            context["fallback_reason"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
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
            # The offline heuristics stand in for a model: the event says so, so nobody
            # mistakes a lexicon's guess for a model's judgement.
            source = SOURCE_OFFLINE if result.offline else SOURCE_LLM
            context.update({"source": source, "reason": evaluation.reason, "model": result.model})
    else:
        context["fallback_reason"] = "message too short to evaluate"

    with transaction.atomic():
        # Two deliveries of the same task may both have passed the first check; the row lock
        # serialises them and the second finds the first one's event.
        row = affinity_service.affinity_lock(session=turn.session)
        already = _event_for(turn)
        if already is not None:
            return already
        return affinity_service.affinity_advance(
            row=row,
            session=turn.session,
            deltas=deltas,
            event_type="message",
            context=context,
            now=now,
        )


# --- the insight part: profile fields and the turn's memories, from one extraction --------


def memory_write_turn(
    *, user_message_id: uuid.UUID | str, embedder: Embedder | None = None
) -> list[CompanionMemory]:
    """The former memory part: the turn's memories are now written by the insight part
    (:func:`insight_update_turn`), which this runs (a no-op once done). Returns the rows
    written or merged into; empty when already done, gone or unanswered."""
    return insight_update_turn(user_message_id=user_message_id, embedder=embedder).memories


@dataclass(frozen=True)
class TurnInsight:
    """What the insight part did: the profile ``fields`` merged and the ``memories`` written
    or merged into (both empty when the turn was already done, gone or unanswered)."""

    fields: dict
    memories: list[CompanionMemory]

    def __iter__(self):  # the field names, as the part's task result
        return iter(self.fields)


def insight_update_turn(
    *,
    user_message_id: uuid.UUID | str,
    chat_model: ChatModel | None = None,
    embedder: Embedder | None = None,
) -> TurnInsight:
    """The insight part: profile fields and the turn's memories, once per user message.

    1. ``insight_extraction`` reads the exchange: facts about the user and a moment worth a
       callback (:func:`insights.services.insight_read_exchange`).
    2. The facts and the moment are embedded in one batch, and the current memories each fact
       may update are found (:func:`memory.services.memory_turn_prepare`).
    3. When there are facts, ``insight_extraction`` maps them to profile fields and, shown
       those memories, says for each fact add / update which / nothing new
       (:func:`insights.services.insight_structure`) — the call the profile needed anyway.
    4. In one transaction: the message is stamped (``extracted_facts``: the fields), the
       fields are merged into the profile, the memories written (supersede, merge or add:
       ``memory.services.writes``), and memories contradicting the profile's city,
       occupation or name are retired, so the two agree.

    No raw line is stored: questions, greetings and small talk leave nothing. A turn stamped
    already is not read again (a redelivered task, a regenerated reply). The session's lead
    score is refreshed from the stored ``training_level`` even when a step fails (the error is
    then raised, for the task's retry). Raises ``ProviderError`` when a model or embedding call
    fails; nothing is written then.
    """
    turn = turn_load(user_message_id)
    if turn is None or turn.assistant_message is None:
        return TurnInsight({}, [])
    if turn.user_message.turn_status != ChatMessage.TURN_REPLIED:
        return TurnInsight({}, [])
    try:
        if turn.user_message.extracted_facts is not None:
            return TurnInsight({}, [])
        chat_model = chat_model or get_chat_model()
        reading = insight_read_exchange(
            user_message=turn.user_message.content,
            reply=turn.assistant_message.content,
            chat_model=chat_model,
        )
        plan = memory_turn_prepare(
            turn=TurnMemories(
                session_id=turn.session.id,
                user_id=turn.session.user_id,
                instance_id=turn.session.instance_id,
                user_message_id=turn.user_message.id,
                reply_message_id=turn.assistant_message.id,
                user_text=turn.user_message.content,
                sent_at=turn.user_message.sent_at,
                facts=reading.facts,
                moment=reading.moment,
            ),
            embedder=embedder,
        )
        fields: dict = {}
        decisions: dict[int, tuple[str, str | None]] = {}
        if reading.facts:
            update = insight_structure(
                user_id=turn.session.user_id,
                facts=reading.facts,
                remembered=plan.remembered,
                chat_model=chat_model,
            )
            fields = update.fields
            decisions = {i: (d.action, d.ref) for i, d in update.decisions.items()}
        with transaction.atomic():
            # Two runs may both have read the turn; only the one that stamps it writes.
            claimed = ChatMessage.objects.filter(
                id=turn.user_message.id, extracted_facts__isnull=True
            ).update(extracted_facts=fields)
            if not claimed:
                return TurnInsight({}, [])
            if fields:
                insight_merge(user_id=turn.session.user_id, facts=fields)
            writes = memory_upsert_many(plan.drafts(decisions))
            agreed = {
                slot: fields[name]
                for name, slot in PROFILE_SLOTS.items()
                if isinstance(fields.get(name), str)
            }
            if agreed:
                memory_reconcile_slots(
                    user_id=turn.session.user_id, values=agreed, at=turn.user_message.sent_at
                )
    finally:
        lead_score_refresh(session_id=turn.session.id, user_id=turn.session.user_id)
    return TurnInsight(fields, [w.memory for w in writes])


def lead_score_refresh(*, session_id: uuid.UUID, user_id: uuid.UUID) -> float:
    """``lead_score = clamp(training_level × 10, 0, 10)`` stored on the session.

    ``training_level`` is the user's stored one, in [0, 1]; the score lies in [0, 10].
    Reference eros-engine-server.md §6.9.4.
    """
    score = max(0.0, min(10.0, insight_training_level(user_id=user_id) * 10))
    ChatSession.objects.filter(id=session_id).update(lead_score=score)
    return score


def lead_score_refresh_turn(*, user_message_id: uuid.UUID | str) -> float | None:
    """The session lead score of a user message's session, refreshed; None if it is gone.

    Only for ``lead`` post-process parts queued before the insight part took this over.
    """
    found = (
        ChatMessage.objects.filter(id=user_message_id)
        .values_list("session_id", "session__user_id")
        .first()
    )
    if found is None:
        return None
    session_id, user_id = found
    return lead_score_refresh(session_id=session_id, user_id=user_id)
