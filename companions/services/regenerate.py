"""Regenerate: answer the session's last replied turn anew, replacing its reply (DESIGN §4).

The new reply goes through the chat pipeline's gather and prompt steps
(:func:`~companions.services.chat_pipeline.turn_prepare_again`): current affinity, profile and
recall, the history without the reply being replaced, and the PDE's reply plan (a turn the
PDE chose to answer is not ghosted on a second try). The request differs from the first one
so that the words change: a temperature raised by :data:`TEMPERATURE_STEP` for real models and
a ``variation`` number in its turn context (``TurnContext.variation``); if the model still
returns the words of an earlier reply, it is asked again, up to :data:`ATTEMPTS` calls in all.

Replacing is one short transaction under the session's turn lock: the old reply row is deleted
(so history, the next prompt and dreaming see only the new one) and its text is kept in the new
reply's ``context["replaced"]`` for operators. Post-process is enqueued again and stays once
per user message: the affinity part already has its event, the insight part has already
stamped ``extracted_facts`` (or, if it had not run yet, reads the turn with the new reply).
Memories of the turn are facts and moments, not the reply's words; they now cite the new
reply in place of the deleted one.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from companions.models import ChatMessage, ChatSession
from companions.scopes import MemoryScope
from companions.services.chat_pipeline import (
    PreparedTurn,
    TurnOutcome,
    reply_store,
    turn_lock,
    turn_prepare_again,
)
from eros.errors import Conflict, Upstream
from eros.llm.base import ChatModel, ChatRequest, Embedder, ProviderError
from eros.llm.providers import get_chat_model
from memory.services import memory_replace_source

logger = logging.getLogger(__name__)

#: Added to the task's configured temperature for a regenerated reply (then capped).
TEMPERATURE_STEP = 0.3
#: Highest temperature a regenerated reply is asked with (OpenAI-compatible servers take 0–2;
#: above about 1.5 replies lose coherence).
MAX_TEMPERATURE = 1.5
#: Model calls per regenerate at most: a reply repeating an earlier one is asked for again.
ATTEMPTS = 3

_VISIBLE_ROLES = (ChatMessage.ROLE_USER, ChatMessage.ROLE_ASSISTANT, ChatMessage.ROLE_GIFT_USER)


def regenerable_turn(*, session: ChatSession) -> tuple[ChatMessage, ChatMessage]:
    """The session's newest user message and its reply, when that reply can be replaced.

    The reply must be the session's newest visible message (user, assistant or gift). Raises
    :class:`~eros.errors.Conflict` (409) with ``details.turn_status`` when there is nothing to
    regenerate: no message from the user yet (a greeting alone is not regenerated), the last
    turn still ``pending``, ``ghosted`` (the persona chose not to answer; send a new message)
    or ``failed`` (it has no reply; send the message again), or something newer than the
    reply (a gift).
    """
    latest = (
        ChatMessage.objects.filter(session=session, role=ChatMessage.ROLE_USER)
        .order_by("-sent_at", "-id")
        .first()
    )
    if latest is None:
        raise Conflict(
            "nothing to regenerate: there is no reply to a message of yours yet",
            details={"turn_status": None},
        )
    status = latest.turn_status
    reasons = {
        ChatMessage.TURN_PENDING: "the last message is still being answered",
        ChatMessage.TURN_GHOSTED: "the last message was not answered (ghosted); send a new one",
        ChatMessage.TURN_FAILED: "the last message has no reply (its turn failed); send it again",
    }
    if status in reasons:
        raise Conflict(
            f"nothing to regenerate: {reasons[status]}",
            details={"turn_status": status, "user_message_id": str(latest.id)},
        )
    reply = (
        ChatMessage.objects.filter(
            session=session, reply_to_id=latest.id, role=ChatMessage.ROLE_ASSISTANT
        )
        .order_by("-sent_at", "-id")
        .first()
    )
    newest = (
        ChatMessage.objects.filter(session=session, role__in=_VISIBLE_ROLES)
        .order_by("-sent_at", "-id")
        .only("id")
        .first()
    )
    if reply is None or newest is None or newest.id != reply.id:
        raise Conflict(
            "nothing to regenerate: only the newest reply can be replaced",
            details={"turn_status": status, "user_message_id": str(latest.id)},
        )
    return latest, reply


def _varied(request: ChatRequest, variation: int) -> ChatRequest:
    return dataclasses.replace(
        request,
        temperature=min(MAX_TEMPERATURE, request.temperature + TEMPERATURE_STEP),
        context=(
            dataclasses.replace(request.context, variation=variation)
            if request.context is not None
            else None
        ),
    )


def turn_regenerate(
    *,
    session: ChatSession,
    memory_scope: MemoryScope,
    affinity_axes: frozenset[str],
    chat_model: ChatModel | None = None,
    embedder: Embedder | None = None,
    now: datetime | None = None,
) -> TurnOutcome:
    """Replace the reply of the session's last turn with a new one; returns the new outcome.

    Raises :class:`~eros.errors.Conflict` when there is nothing to regenerate
    (:func:`regenerable_turn`) or when the conversation moved on while the model was
    answering (the new reply is then dropped), ``NotFound`` when the persona instance is gone,
    and :class:`~eros.errors.Upstream` when the chat model fails: the old reply then stays,
    and a ``system_error`` row records the failure for operators.
    """
    user_message, old = regenerable_turn(session=session)
    prepared = turn_prepare_again(
        session=session,
        user_message=user_message,
        replaced=old,
        memory_scope=memory_scope,
        affinity_axes=affinity_axes,
        embedder=embedder,
        now=now,
    )
    replaced = [
        *((old.context or {}).get("replaced") or []),
        {"id": str(old.id), "content": old.content, "model": (old.context or {}).get("model")},
    ]
    earlier = {item["content"].strip() for item in replaced if isinstance(item, dict)}
    chat_model = chat_model or get_chat_model()
    for attempt in range(ATTEMPTS):
        # Number the variations across regenerates, so each one asks for a new wording.
        request = _varied(prepared.request, len(replaced) + attempt)
        try:
            result = chat_model.complete(request)
        except ProviderError as exc:
            logger.warning("regenerate failed for session %s: %s", session.id, exc)
            _record_failure(user_message, reason=str(exc))
            raise Upstream() from exc
        if result.text.strip() not in earlier:
            break
    return _replace_reply(
        prepared,
        old=old,
        text=result.text,
        model=result.model,
        replaced=replaced,
        attempts=attempt + 1,
    )


def _replace_reply(
    prepared: PreparedTurn,
    *,
    old: ChatMessage,
    text: str,
    model: str,
    replaced: list[dict],
    attempts: int,
) -> TurnOutcome:
    session, user_message = prepared.session, prepared.user_message
    context = {
        **prepared.context,
        "model": model,
        "recall": prepared.recall_ids,
        "latency_ms": round((time.perf_counter() - prepared.started) * 1000, 1),
        "regenerate_attempts": attempts,
        "replaced": replaced,
    }
    now = timezone.now()
    with transaction.atomic():
        turn_lock(session.id)
        # A message sent, or another regenerate finished, while the model was answering: the
        # reply asked for is no longer the newest, so this one is dropped rather than reordered.
        try:
            current = regenerable_turn(session=session)
        except Conflict as exc:
            raise Conflict(
                "the conversation moved on while the reply was regenerated", details=exc.details
            ) from exc
        if (current[0].id, current[1].id) != (user_message.id, old.id):
            raise Conflict(
                "the conversation moved on while the reply was regenerated",
                details={"user_message_id": str(current[0].id)},
            )
        ChatMessage.objects.filter(id=old.id).delete()
        reply = reply_store(
            session=session, user_message=user_message, text=text, context=context, now=now
        )
        # Memories of the turn cite the reply that now stands, not the one deleted.
        memory_replace_source(user_id=session.user_id, old=old.id, new=reply.id)
    return TurnOutcome(session, user_message, reply, prepared.plan, prepared.training_level)


def _record_failure(user_message: ChatMessage, *, reason: str) -> None:
    """A ``system_error`` row for operators; the turn keeps its status and its reply."""
    ChatMessage.objects.create(
        session_id=user_message.session_id,
        role=ChatMessage.ROLE_SYSTEM_ERROR,
        content=f"regenerate failed: {reason}"[:2000],
        sent_at=timezone.now(),
        reply_to_id=user_message.id,
        context={"regenerate": True},
    )
