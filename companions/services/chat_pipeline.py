"""The chat turn: store, gather, decide, act, persist, then post-process (DESIGN §5).

``turn_begin`` stores the user message (``turn_status=pending``) in its own transaction, so it
survives whatever happens next. ``turn_run`` then gathers everything the decision needs in a
handful of queries, asks the pure PDE for a plan, calls the chat model (never inside a
transaction), and persists the outcome in one short transaction whose commit enqueues the
post-process task. ``turn_run`` is ``turn_prepare`` (gather, decide, build the chat request or
persist a ghost), the model call, then ``turn_finish_reply`` (persist); the streamed route
runs the same two around a streamed model call.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from companions import prompt as prompt_builder
from companions.domain import ghost as ghost_rules
from companions.domain import pde
from companions.domain.affinity import whole_minutes
from companions.domain.types import (
    ActionPlan,
    ActionType,
    ConversationSignals,
    DecisionInput,
    PersonaTraits,
    UserMessage,
)
from companions.models import ChatMessage, ChatSession
from companions.scopes import MemoryScope
from companions.services import affinity as affinity_service
from companions.services.turn_sweeper import turn_fail_if_stale
from eros.connections import release_connection
from eros.errors import AppError, Conflict, NotFound, Upstream
from eros.llm.base import (
    TASK_CHAT,
    ChatModel,
    ChatRequest,
    Embedder,
    PersonaCard,
    ProviderError,
    RecalledMemory,
    TurnContext,
)
from eros.llm.base import ChatMessage as LlmMessage
from eros.llm.deadline import shares_deadline
from eros.llm.providers import get_chat_model, get_embedder, get_model_config
from insights.models import CompanionInsights
from insights.schema import training_level
from memory.models import LAYER_PROFILE, LAYER_RELATIONSHIP
from memory.selectors import Recall, memory_recall
from personas.selectors import persona_load_companion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnOutcome:
    """What a turn produced, for the API response."""

    session: ChatSession
    user_message: ChatMessage
    assistant_message: ChatMessage | None
    plan: ActionPlan
    training_level: float

    @property
    def ghosted(self) -> bool:
        return self.plan.action_type == ActionType.GHOST

    @property
    def reply(self) -> str | None:
        return self.assistant_message.content if self.assistant_message else None


def typing_delay_ms(user_message_id: uuid.UUID) -> int:
    """800 + (first 8 bytes of the user message id, little-endian) mod 1700 → [800, 2499].

    Reference eros-engine-server.md §5.3.
    """
    return 800 + int.from_bytes(user_message_id.bytes[:8], "little") % 1700


def should_show_cta(lead_score: float, level: float) -> bool:
    """``lead_score >= 7`` and ``training_level >= 0.4`` (reference server §5.3)."""
    return lead_score >= 7.0 and level >= 0.4


def turn_begin(*, session: ChatSession, content: str, now: datetime | None = None) -> ChatMessage:
    """Store the user's message as a pending turn and mark the session active.

    The message is committed before anything else runs, so no later failure can lose it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        message = ChatMessage.objects.create(
            session=session,
            role=ChatMessage.ROLE_USER,
            content=content,
            sent_at=now,
            turn_status=ChatMessage.TURN_PENDING,
        )
        ChatSession.objects.filter(id=session.id).update(last_active_at=now)
    return message


def _signals(
    session: ChatSession, user_message: ChatMessage, affinity_row, now: datetime, *, again=False
):
    """Conversation signals; the stale gap is measured to the *previous* user message (§9.2).

    The same statement reads the message's own ``turn_status`` (taken after the turn lock, so
    it is current): a turn that already ran raises :class:`TurnAlreadyHandled`, unless
    ``again`` (a replied turn being answered anew).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE role = 'user'),
                   max(sent_at) FILTER (WHERE role = 'user' AND id <> %s),
                   max(turn_status) FILTER (WHERE id = %s)
            FROM chat_messages WHERE session_id = %s
            """,
            [user_message.id, user_message.id, session.id],
        )
        count, previous_at, status = cursor.fetchone()
    if status not in (None, ChatMessage.TURN_PENDING) and not again:
        raise TurnAlreadyHandled(f"turn {user_message.id} is already {status}")
    hours_since_last = whole_minutes(now - previous_at) / 60.0 if previous_at else 0.0
    hours_since_ghost = (
        whole_minutes(now - affinity_row.last_ghost_at) / 60.0
        if affinity_row.last_ghost_at
        else None
    )
    return ConversationSignals(
        message_count=count,
        hours_since_last_message=hours_since_last,
        ghost_streak=affinity_row.ghost_streak,
        hours_since_last_ghost=hours_since_ghost,
    )


def _history(
    session: ChatSession, exclude: frozenset[uuid.UUID] = frozenset()
) -> list[ChatMessage]:
    rows = list(
        ChatMessage.objects.filter(session=session)
        .exclude(id__in=exclude)
        .order_by("-sent_at")
        .only("role", "content", "sent_at")[: settings.HISTORY_TURNS]
    )
    rows.reverse()
    return [m for m in rows if m.role in (ChatMessage.ROLE_USER, ChatMessage.ROLE_ASSISTANT)]


def _recall(
    *, session: ChatSession, text: str, scope: MemoryScope, embedder: Embedder, now: datetime
) -> Recall:
    if not scope.recall_needed or not text.strip():
        return Recall()
    try:
        vector = embedder.embed_query(text)
    except ProviderError as exc:
        # Recall is an enhancement: the turn goes on without it.
        logger.warning("recall skipped, embedding failed: %s", exc)
        return Recall()
    return memory_recall(
        user_id=session.user_id,
        instance_id=session.instance_id,
        query_vector=vector,
        query_text=text,
        now=now,
        profile=scope.profile,
        relationship=scope.relationship,
    )


@dataclass(frozen=True)
class PreparedTurn:
    """A gathered and decided turn, ready for the chat model or already finished as a ghost.

    ``request`` is the chat request to send, or None when the plan is a ghost; the ghost is
    then already persisted. ``context`` is the operator-facing decision context that
    :func:`turn_finish_reply` stores on the assistant message; ``started`` is the
    ``time.perf_counter()`` value at which the turn began.
    """

    session: ChatSession
    user_message: ChatMessage
    plan: ActionPlan
    training_level: float
    request: ChatRequest | None
    context: dict[str, Any]
    started: float
    recall_ids: dict[str, list[str]]

    @property
    def ghosted(self) -> bool:
        return self.request is None


class TurnAlreadyHandled(Conflict):
    """The user message's turn already ran or was settled meanwhile; nothing to do.

    A redelivered background task meets it and stops; a sync request meets it when the turn
    was failed meanwhile (the stuck-turn sweeper), and the client gets 409 ``conflict``
    rather than a 500: the message's ``turn_status`` in the history says what happened.
    """

    default_message = "this message's turn was settled meanwhile; see its turn_status"


#: First key of the advisory lock that serialises the turns of one session.
TURN_LOCK_NAMESPACE = 0x65726F73  # "eros"


def turn_lock(session_id: uuid.UUID) -> None:
    """Take the session's turn lock until the end of the caller's transaction.

    ``pg_advisory_xact_lock(namespace, key)`` with a 32-bit key from the session id; two
    sessions sharing a key only wait for each other, which is harmless.
    """
    key = int.from_bytes(session_id.bytes[:4], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [TURN_LOCK_NAMESPACE, key])


@dataclass(frozen=True)
class _Decided:
    plan: ActionPlan
    affinity: Any
    signals: ConversationSignals
    insights: dict[str, Any]
    level: float
    context: dict[str, Any]


def _decide(
    session: ChatSession, user_message: ChatMessage, instance, now: datetime, *, again=False
) -> _Decided:
    """Gather the decision's inputs (caller holds the turn lock) and ask the PDE for a plan.

    ``again``: the turn was replied and is answered anew; the PDE's choice to reply stands, so
    the plan is its reply plan (no ghost check) and the turn's status is not checked.
    """
    genome = instance.genome
    affinity_row = affinity_service.affinity_get_or_create(session=session)
    affinity = affinity_service.decayed_view(affinity_row, now=now)
    signals = _signals(session, user_message, affinity_row, now, again=again)
    insights_row = CompanionInsights.objects.filter(user_id=session.user_id).first()
    insights = insights_row.insights if insights_row else {}
    level = training_level(insights)
    event = UserMessage(content=user_message.content, message_id=user_message.id)
    if again:
        plan = pde.reply_plan(event, signals)
    else:
        plan = pde.decide(
            DecisionInput(
                event=event,
                affinity=affinity,
                persona=PersonaTraits(name=genome.name, tip_personality=genome.tip_personality),
                signals=signals,
            )
        )
    context: dict[str, Any] = {
        "plan": {
            "action": plan.action_type.value,
            "style": plan.reply_style.value,
            "rule_deltas": plan.affinity_deltas.as_dict(),
        },
        "signals": {
            "message_count": signals.message_count,
            "hours_since_last_message": signals.hours_since_last_message,
            "hours_since_last_ghost": signals.hours_since_last_ghost,
            "ghost_score": ghost_rules.ghost_score(affinity),
            "ghost_rule": ghost_rules.ghost_rule(
                affinity,
                ghost_rules.GhostSignals(signals.message_count, signals.hours_since_last_ghost),
            ),
        },
    }
    return _Decided(plan, affinity, signals, insights, level, context)


# The recall embedding and the chat completion share one deadline, so a turn's model calls end
# within LLM_DEADLINE_S, before the worker's timeout, even when both providers hang.
@shares_deadline(lambda: settings.LLM_DEADLINE_S)
def turn_run(
    *,
    session: ChatSession,
    user_message: ChatMessage,
    memory_scope: MemoryScope,
    affinity_axes: frozenset[str],
    chat_model: ChatModel | None = None,
    embedder: Embedder | None = None,
    now: datetime | None = None,
) -> TurnOutcome:
    """Run one turn for a stored user message and persist its outcome.

    Raises ``NotFound`` when the session's persona instance is gone, and ``Upstream`` when the
    chat model fails after retries and fallback (both :mod:`eros.errors`); in that case
    the user message is kept with ``turn_status=failed`` and a ``system_error`` row is written.
    Any other failure also marks the turn ``failed`` before propagating, so it never stays
    ``pending``. Raises :class:`TurnAlreadyHandled` when the message's turn already ran.
    """
    try:
        prepared = turn_prepare(
            session=session,
            user_message=user_message,
            memory_scope=memory_scope,
            affinity_axes=affinity_axes,
            embedder=embedder,
            now=now,
        )
        if prepared.request is None:
            return TurnOutcome(session, user_message, None, prepared.plan, prepared.training_level)
        chat_model = chat_model or get_chat_model()
        if not getattr(chat_model, "in_process", False):
            # No transaction is open: a network call may take seconds, so give the pooled
            # connection back meanwhile. A model that answers in-process keeps it, because
            # under load taking one again means queueing for the pool a second time.
            release_connection()
        try:
            result = chat_model.complete(prepared.request)
        except ProviderError as exc:
            logger.warning("chat model failed for session %s: %s", session.id, exc)
            _fail_turn(user_message, reason=str(exc), now=timezone.now())
            raise Upstream() from exc
        return turn_finish_reply(prepared=prepared, text=result.text, model=result.model)
    except (AppError, TurnAlreadyHandled):
        raise
    except Exception:
        logger.exception("turn for message %s failed", user_message.id)
        try:
            _fail_turn(user_message, reason="internal error", now=timezone.now())
        except DatabaseError:
            logger.exception("could not mark turn %s failed", user_message.id)
        raise


def turn_prepare(
    *,
    session: ChatSession,
    user_message: ChatMessage,
    memory_scope: MemoryScope,
    affinity_axes: frozenset[str],
    embedder: Embedder | None = None,
    now: datetime | None = None,
) -> PreparedTurn:
    """Gather and decide a turn; build its chat request, or persist it as a ghost.

    No model is called here and no transaction is left open, so the caller may call the chat
    model (whole or streamed) and then :func:`turn_finish_reply`. Raises ``NotFound`` when
    the session's persona instance is gone (the turn is then marked ``failed``) and
    :class:`TurnAlreadyHandled` when the message's turn already ran.
    """
    started = time.perf_counter()
    embedder = embedder or get_embedder()

    # --- gather + decide, serialised per session ----------------------------------------
    # Concurrent turns of one session take turns here, so each decision sees the ghost
    # bookkeeping of the ones before it (two messages at once cannot both be ghosted inside
    # the cooldown). The lock is a transaction-scoped advisory lock, released before any
    # model call; it does not block writers of the session row (new user messages).
    missing_persona = False
    with transaction.atomic():
        turn_lock(session.id)
        now = now or timezone.now()
        instance = (
            persona_load_companion(instance_id=session.instance_id) if session.instance_id else None
        )
        if instance is None:
            missing_persona = True
        else:
            decided = _decide(session, user_message, instance, now)
            if decided.plan.action_type == ActionType.GHOST:
                _persist_ghost(session, user_message, decided.plan, decided.context, now)
    if missing_persona:
        _fail_turn(user_message, reason="persona instance not found", now=now)
        raise NotFound("persona instance not found")
    if decided.plan.action_type == ActionType.GHOST:
        return PreparedTurn(
            session, user_message, decided.plan, decided.level, None, decided.context, started, {}
        )
    return _prepare_reply(
        session,
        user_message,
        instance.genome,
        decided,
        memory_scope=memory_scope,
        affinity_axes=affinity_axes,
        embedder=embedder,
        now=now,
        started=started,
    )


def turn_prepare_again(
    *,
    session: ChatSession,
    user_message: ChatMessage,
    replaced: ChatMessage,
    memory_scope: MemoryScope,
    affinity_axes: frozenset[str],
    embedder: Embedder | None = None,
    now: datetime | None = None,
) -> PreparedTurn:
    """Gather a replied turn again and build a new chat request for it, for a new reply.

    The prompt is built as for a fresh turn (current affinity, profile, recall), with the PDE's
    reply plan (a turn it chose to answer is not ghosted on a second try) and the history
    without ``replaced``, the reply being superseded. Writes nothing; never leaves the turn
    ``failed``. Raises ``NotFound`` when the session's persona instance is gone.
    """
    started = time.perf_counter()
    embedder = embedder or get_embedder()
    with transaction.atomic():
        turn_lock(session.id)
        now = now or timezone.now()
        instance = (
            persona_load_companion(instance_id=session.instance_id) if session.instance_id else None
        )
        if instance is None:
            raise NotFound("persona instance not found")
        decided = _decide(session, user_message, instance, now, again=True)
    return _prepare_reply(
        session,
        user_message,
        instance.genome,
        decided,
        memory_scope=memory_scope,
        affinity_axes=affinity_axes,
        embedder=embedder,
        now=now,
        started=started,
        exclude=frozenset({replaced.id}),
    )


def _prepare_reply(
    session: ChatSession,
    user_message: ChatMessage,
    genome,
    decided: _Decided,
    *,
    memory_scope: MemoryScope,
    affinity_axes: frozenset[str],
    embedder: Embedder,
    now: datetime,
    started: float,
    exclude: frozenset[uuid.UUID] = frozenset(),
) -> PreparedTurn:
    """Recall, prompt and chat request of a turn the PDE chose to answer (no model call)."""
    plan, affinity, signals = decided.plan, decided.affinity, decided.signals
    insights, level, decision_context = decided.insights, decided.level, decided.context

    # --- act ------------------------------------------------------------------------------
    recall = _recall(
        session=session, text=user_message.content, scope=memory_scope, embedder=embedder, now=now
    )
    vector = affinity.vector()
    system_prompt = prompt_builder.build_system_prompt(
        prompt_builder.PromptInputs(
            persona_name=genome.name,
            system_prompt=genome.system_prompt,
            art_metadata=genome.art_metadata or {},
            insights=insights,
            recall=recall,
            memory_scope=memory_scope,
            affinity=vector,
            affinity_axes=affinity_axes,
            style=plan.reply_style,
            hints=plan.context_hints,
            now=now,
            # The count includes this message: one means nobody wrote before it.
            hours_since_last_message=(
                signals.hours_since_last_message if signals.message_count > 1 else None
            ),
            user_timezone=insights.get("timezone") if isinstance(insights, dict) else None,
        )
    )
    history = _history(session, exclude)
    messages = (LlmMessage("system", system_prompt),) + tuple(
        LlmMessage(m.role, m.content) for m in history
    )
    override = (genome.art_metadata or {}).get("model")
    resolved = get_model_config().resolve(
        TASK_CHAT, override if isinstance(override, str) else None
    )
    recalled = tuple(
        RecalledMemory(h.content, LAYER_PROFILE, h.similarity, h.category)
        for _, hits in recall.profile_groups
        for h in hits
    ) + tuple(
        RecalledMemory(h.content, LAYER_RELATIONSHIP, h.similarity, h.category)
        for h in recall.relationship
    )
    request = ChatRequest(
        task=TASK_CHAT,
        model=resolved.model,
        fallback_model=resolved.fallback_model,
        messages=messages,
        temperature=resolved.temperature,
        max_tokens=resolved.max_tokens,
        context=TurnContext(
            user_message=user_message.content,
            persona=PersonaCard.from_metadata(genome.name, genome.art_metadata or {}),
            reply_style=plan.reply_style.value,
            relationship_label=affinity.relationship_label.value
            if affinity.relationship_label
            else "stranger",
            affinity=vector,
            recalled=recalled,
            message_count=signals.message_count,
            user_name=_user_name(insights),
        ),
    )
    recall_ids = {
        "profile": [str(h.id) for _, hits in recall.profile_groups for h in hits],
        "relationship": [str(h.id) for h in recall.relationship],
    }
    return PreparedTurn(
        session, user_message, plan, level, request, decision_context, started, recall_ids
    )


def _user_name(insights: Any) -> str | None:
    """The profile's ``preferred_name`` when it is a non-blank string, else None."""
    name = insights.get("preferred_name") if isinstance(insights, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def turn_finish_reply(
    *,
    prepared: PreparedTurn,
    text: str,
    model: str,
    context: dict[str, Any] | None = None,
) -> TurnOutcome:
    """Persist the reply ``text`` (already cleaned) of a prepared turn and enqueue post-process.

    ``model`` is the model that answered; ``context`` adds operator-facing facts to the
    assistant message's context (e.g. ``{"interrupted": True}``). One short transaction;
    post-process is enqueued on commit.
    """
    decision_context = {
        **prepared.context,
        "model": model,
        "recall": prepared.recall_ids,
        "latency_ms": round((time.perf_counter() - prepared.started) * 1000, 1),
        **(context or {}),
    }
    assistant = _persist_reply(prepared.session, prepared.user_message, text, decision_context)
    return TurnOutcome(
        prepared.session, prepared.user_message, assistant, prepared.plan, prepared.training_level
    )


def turn_fail(
    *, user_message: ChatMessage, reason: str, context: dict[str, Any] | None = None
) -> None:
    """Mark a turn ``failed`` and write its ``system_error`` row (with ``context``, if any).

    The user message is kept; no post-process runs for a failed turn.
    """
    _fail_turn(user_message, reason=reason, now=timezone.now(), context=context)


def _persist_reply(
    session: ChatSession, user_message: ChatMessage, text: str, context: dict[str, Any]
) -> ChatMessage:
    now = timezone.now()
    with transaction.atomic():
        # Only a pending turn may take a reply: a second run of the same turn (a redelivered
        # task) loses here and leaves no duplicate reply.
        claimed = (
            ChatMessage.objects.filter(id=user_message.id)
            .filter(Q(turn_status=ChatMessage.TURN_PENDING) | Q(turn_status__isnull=True))
            .update(turn_status=ChatMessage.TURN_REPLIED)
        )
        if not claimed:
            raise TurnAlreadyHandled(f"turn {user_message.id} was answered meanwhile")
        assistant = reply_store(
            session=session, user_message=user_message, text=text, context=context, now=now
        )
        affinity_service.affinity_reset_streak(session=session, now=now)
    user_message.turn_status = ChatMessage.TURN_REPLIED
    return assistant


def reply_store(
    *,
    session: ChatSession,
    user_message: ChatMessage,
    text: str,
    context: dict[str, Any],
    now: datetime,
) -> ChatMessage:
    """Store ``text`` as the reply to ``user_message``, mark the session active, and enqueue
    post-process once the caller's transaction commits.

    Precondition: inside ``transaction.atomic()``, with the turn claimed by the caller.
    """
    assistant = ChatMessage.objects.create(
        session=session,
        role=ChatMessage.ROLE_ASSISTANT,
        content=text,
        sent_at=now,
        reply_to_id=user_message.id,
        context=context,
    )
    ChatSession.objects.filter(id=session.id).update(last_active_at=now)
    # robust: the reply is committed; a broker hiccup must not turn it into an error.
    transaction.on_commit(lambda: _enqueue_post_process(user_message.id), robust=True)
    return assistant


def _persist_ghost(session, user_message, plan: ActionPlan, context: dict[str, Any], now) -> None:
    with transaction.atomic():
        # Claimed like a reply: a turn the stuck-turn sweeper failed meanwhile stays failed.
        claimed = (
            ChatMessage.objects.filter(id=user_message.id)
            .filter(Q(turn_status=ChatMessage.TURN_PENDING) | Q(turn_status__isnull=True))
            .update(turn_status=ChatMessage.TURN_GHOSTED, context=context)
        )
        if not claimed:
            raise TurnAlreadyHandled(f"turn {user_message.id} was settled meanwhile")
        affinity_service.affinity_record_ghost(
            session=session,
            deltas=plan.affinity_deltas,
            now=now,
            context={"user_message_id": str(user_message.id), **context["signals"]},
        )
    user_message.turn_status = ChatMessage.TURN_GHOSTED


def _fail_turn(
    user_message: ChatMessage, *, reason: str, now: datetime, context: dict | None = None
) -> None:
    """Keep the user message (``failed``) and leave a ``system_error`` row for operators.

    Only a pending turn fails: one the stuck-turn sweeper (or another run) settled meanwhile
    keeps its outcome and its single ``system_error`` row.
    """
    with transaction.atomic():
        claimed = (
            ChatMessage.objects.filter(id=user_message.id)
            .filter(Q(turn_status=ChatMessage.TURN_PENDING) | Q(turn_status__isnull=True))
            .update(turn_status=ChatMessage.TURN_FAILED)
        )
        if not claimed:
            user_message.refresh_from_db(fields=["turn_status"])
            return
        ChatMessage.objects.create(
            session_id=user_message.session_id,
            role=ChatMessage.ROLE_SYSTEM_ERROR,
            content=f"reply failed: {reason}"[:2000],
            sent_at=now,
            reply_to_id=user_message.id,
            context=context or {},
        )
    user_message.turn_status = ChatMessage.TURN_FAILED


def _async_task(*args, **kwargs) -> None:
    """``django_q.tasks.async_task``, without giving up this thread's pooled connection.

    django-q2's ORM broker calls ``close_old_connections()`` before an enqueue made outside a
    transaction; with the pool (``CONN_MAX_AGE=0``) that hands the connection back, and under
    load the request then queues for the pool a second time just to insert the task row.
    Inside ``atomic`` the broker skips that. In synchronous mode (tests) the task runs here
    and now, so it must not run inside a transaction.
    """
    from django_q.conf import Conf
    from django_q.tasks import async_task

    if Conf.SYNC:
        async_task(*args, **kwargs)
        return
    with transaction.atomic():
        async_task(*args, **kwargs)


def _enqueue_post_process(user_message_id: uuid.UUID) -> None:
    _async_task(
        "companions.tasks.post_process_turn",
        str(user_message_id),
        task_name=f"post-process {user_message_id}",
        group="post-process",
    )


def turn_enqueue(
    *, user_message: ChatMessage, memory_scope: MemoryScope, affinity_axes: frozenset[str]
) -> None:
    """Run the turn of a stored user message on a worker, once the message is committed.

    The scopes travel with the task (by name and axis list), since nothing about them is
    persisted.
    """
    message_id = str(user_message.id)
    transaction.on_commit(
        lambda: _async_task(
            "companions.tasks.turn_run_queued",
            message_id,
            memory_scope.name,
            sorted(affinity_axes),
            task_name=f"turn {message_id}",
            group="turns",
        )
    )


def turn_run_queued(
    *, user_message_id: uuid.UUID | str, memory_scope: str, affinity_axes: list[str]
) -> str:
    """Worker side of ``message_async``: run the turn if it is still pending.

    Returns the turn's final ``turn_status`` (``replied``, ``ghosted``, ``failed``), or
    ``missing`` when the message no longer exists. A failed turn is already recorded by
    :func:`turn_run` (``failed`` + ``system_error`` row), so the poller sees ``error``. A turn
    pending for over ``TURN_STALE_AFTER_S`` is failed without running (``turn_sweeper``).
    """
    from companions.scopes import resolve_affinity_scope, resolve_memory_scope

    message = (
        ChatMessage.objects.select_related("session")
        .filter(id=user_message_id, role=ChatMessage.ROLE_USER)
        .first()
    )
    if message is None:
        return "missing"
    if message.turn_status not in (None, ChatMessage.TURN_PENDING):
        return message.turn_status
    # A task delivered after the turn went stale (a backed-up queue, a re-delivery after a
    # worker died) does not start it: the turn is failed now, as the sweeper would.
    if turn_fail_if_stale(user_message=message):
        return ChatMessage.TURN_FAILED
    try:
        outcome = turn_run(
            session=message.session,
            user_message=message,
            memory_scope=resolve_memory_scope(memory_scope),
            affinity_axes=resolve_affinity_scope(affinity_axes),
        )
    except TurnAlreadyHandled:
        message.refresh_from_db(fields=["turn_status"])
        return message.turn_status or ChatMessage.TURN_PENDING
    except AppError:
        return ChatMessage.TURN_FAILED
    return outcome.user_message.turn_status or ChatMessage.TURN_REPLIED
