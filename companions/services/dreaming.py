"""The dreaming claim loop: pick idle sessions one at a time and distil them (DESIGN §7).

A sweeper claims one idle session at a time with a single ``UPDATE … FOR UPDATE SKIP LOCKED``
statement, so any number of sweepers (threads, processes, hosts) can run at once and never
work on the same session. The distillation itself (the model call, parsing, embeddings) is the
memory app's :func:`memory.services.dreaming.dreaming_distil`; no transaction is held across it.

* Eligible: idle for ``DREAMING_IDLE_SECS`` and holding user/assistant messages newer than its
  ``classified_at`` (so a resumed session is distilled again, over the new messages only),
  not claimed by a live sweeper (a claim older than ``DREAMING_CLAIM_STALE_SECS`` is dead), and
  not waiting out a retry backoff.
* Outcomes: success or an unparsable answer stamps ``classified_at`` (no poison loops); a
  provider failure (or any unexpected error) releases the claim, bumps
  ``classification_attempts`` and sets a backoff (:func:`dreaming_backoff_secs`); after
  ``DREAMING_MAX_ATTEMPTS`` failures those messages are given up (stamped).
* Memories and the stamp are written in one transaction, and only while the claim still
  stands, so a session is distilled exactly once per batch of messages even if a slow sweeper
  outlives its claim.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from companions.models import ChatMessage, ChatSession
from eros.errors import Conflict, NotFound
from eros.llm.base import ChatModel, Embedder, ProviderError
from memory.services.dreaming import TranscriptLine, dreaming_distil
from memory.services.writes import memory_upsert_many

logger = logging.getLogger(__name__)

SCHEDULE_NAME = "eros-dreaming"
#: The django-q2 task the dreaming schedule runs.
TICK_FUNC = "companions.tasks.dreaming_tick"

#: Sessions a sweeper may claim now (parameters: now, idle_cutoff, stale_cutoff).
_ELIGIBLE = """
    s.last_active_at < %(idle_cutoff)s
    AND (s.classification_claimed_at IS NULL OR s.classification_claimed_at < %(stale_cutoff)s)
    AND (s.next_classification_at IS NULL OR s.next_classification_at <= %(now)s)
    -- Every user message moves last_active_at, so a session not active since its last
    -- classification holds nothing new: this keeps settled sessions off chat_messages.
    AND (s.classified_at IS NULL OR s.last_active_at > s.classified_at)
    -- A greeting (an assistant row answering no user message) alone gives nothing to distil.
    AND EXISTS (
        SELECT 1 FROM chat_messages m
        WHERE m.session_id = s.id
          AND (m.role = 'user' OR (m.role = 'assistant' AND m.reply_to_id IS NOT NULL))
          AND (s.classified_at IS NULL OR m.sent_at > s.classified_at))
"""

# "id = (scalar subquery)" runs the subquery once. With "id IN (…)" the planner may rescan it
# for every row of an outer scan of chat_sessions; each rescan locks and returns the next
# unlocked row, and one statement claimed several sessions while returning one.
_CLAIM_SQL = f"""
UPDATE chat_sessions SET classification_claimed_at = %(now)s
WHERE id = (
    SELECT s.id FROM chat_sessions s
    WHERE {_ELIGIBLE}
    ORDER BY s.last_active_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING id, user_id, instance_id, classified_at, classification_attempts
"""

_BACKLOG_SQL = f"SELECT count(*) FROM chat_sessions s WHERE {_ELIGIBLE}"

#: Claim one named session now (parameters: now, stale_cutoff, session): idle time and retry
#: backoff do not matter, a live claim of another sweeper does.
_CLAIM_ONE_SQL = """
UPDATE chat_sessions SET classification_claimed_at = %(now)s
WHERE id = (
    SELECT s.id FROM chat_sessions s
    WHERE s.id = %(session)s
      AND (s.classification_claimed_at IS NULL OR s.classification_claimed_at < %(stale_cutoff)s)
    FOR UPDATE SKIP LOCKED)
RETURNING id, user_id, instance_id, classified_at, classification_attempts
"""


def _window(now: datetime) -> dict:
    return {
        "now": now,
        "idle_cutoff": now - timedelta(seconds=settings.DREAMING_IDLE_SECS),
        "stale_cutoff": now - timedelta(seconds=settings.DREAMING_CLAIM_STALE_SECS),
    }


def dreaming_backlog(*, now: datetime | None = None) -> int:
    """How many sessions a sweeper could claim at ``now`` (default: the current time)."""
    with connection.cursor() as cursor:
        cursor.execute(_BACKLOG_SQL, _window(now or timezone.now()))
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class DreamingOutcome:
    """What one sweep step did to the session it claimed.

    ``status``: ``distilled`` (model answered, memories written/merged), ``unparsable``
    (answer without JSON; stamped), ``empty`` (no new messages; stamped), ``retry`` (provider
    or unexpected failure; claim released with backoff), ``given_up`` (failed
    ``DREAMING_MAX_ATTEMPTS`` times; stamped), ``lost_claim`` (another sweeper re-claimed the
    session after this claim went stale; nothing written). ``memory_ids``: the rows written or
    merged into, each once, in the order of the candidates.
    """

    session_id: uuid.UUID
    status: str
    messages: int = 0
    created: int = 0
    merged: int = 0
    attempts: int = 0
    memory_ids: tuple[uuid.UUID, ...] = ()


def _claim(now: datetime):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, _window(now))
        return cursor.fetchone()


def _still_ours(session_id, claimed_at) -> bool:
    """Lock the session row if this sweeper's claim still stands (caller is in a transaction).

    The claim instant is the token: a sweeper that outlived the stale window and was
    re-claimed by another finds a different (later) ``classification_claimed_at``.
    """
    return (
        ChatSession.objects.select_for_update()
        .filter(id=session_id, classification_claimed_at=claimed_at)
        .exists()
    )


def _stamp(session_id, *, classified_at) -> None:
    ChatSession.objects.filter(id=session_id).update(
        classified_at=classified_at,
        classification_claimed_at=None,
        classification_attempts=0,
        next_classification_at=None,
    )


def _finish(session_id, *, claimed_at, classified_at, drafts=()) -> tuple | None:
    """Write ``drafts`` and stamp the session in one transaction, if the claim still stands.

    Returns (created, merged, ids of the rows written or merged into), or None when the claim
    was lost (nothing written).
    """
    with transaction.atomic():
        if not _still_ours(session_id, claimed_at):
            return None
        writes = memory_upsert_many(drafts) if drafts else []
        _stamp(session_id, classified_at=classified_at)
    created = sum(1 for w in writes if w.created)
    return created, len(writes) - created, tuple(dict.fromkeys(w.memory.id for w in writes))


def _release(session_id, *, claimed_at, attempts, now, newest) -> str:
    """After a failure: back off and release the claim, or give up after the last attempt."""
    rows = ChatSession.objects.filter(id=session_id, classification_claimed_at=claimed_at)
    if attempts >= settings.DREAMING_MAX_ATTEMPTS:
        rows.update(
            classified_at=newest,
            classification_claimed_at=None,
            classification_attempts=0,
            next_classification_at=None,
        )
        return "given_up"
    rows.update(
        classification_claimed_at=None,
        classification_attempts=attempts,
        next_classification_at=now + timedelta(seconds=dreaming_backoff_secs(attempts)),
    )
    return "retry"


def dreaming_backoff_secs(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failure: max(tick, 30) · 2^(attempts − 1)."""
    return max(settings.DREAMING_TICK_SECS, 30) * 2 ** (attempts - 1)


def dreaming_sweep_one(
    *,
    now: datetime | None = None,
    chat_model: ChatModel | None = None,
    embedder: Embedder | None = None,
) -> DreamingOutcome | None:
    """Claim and distil one idle session; None when nothing is eligible.

    A crash after the claim loses nothing: memories and the ``classified_at`` stamp are written
    in one transaction, so a dead sweeper leaves either both or neither, and its claim goes
    stale after ``DREAMING_CLAIM_STALE_SECS``, when another sweeper claims the session again.
    """
    now = now or timezone.now()
    claimed = _claim(now)
    if claimed is None:
        return None
    return _distil_claimed(claimed, now=now, chat_model=chat_model, embedder=embedder)


def dreaming_distil_session(
    *,
    session_id: uuid.UUID,
    now: datetime | None = None,
    chat_model: ChatModel | None = None,
    embedder: Embedder | None = None,
) -> DreamingOutcome:
    """Claim and distil one named session now, idle or not ("dream now").

    The same claim (a ``FOR UPDATE SKIP LOCKED`` update of ``classification_claimed_at``),
    distillation, finish and release as :func:`dreaming_sweep_one`, except that the session's
    idle time and retry backoff are ignored. Distils the messages since its last
    classification (``empty`` when there are none). Raises :class:`~eros.errors.NotFound` for
    an unknown session and :class:`~eros.errors.Conflict` while another sweeper's live claim
    holds it.
    """
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM_ONE_SQL, {**_window(now), "session": session_id})
        claimed = cursor.fetchone()
    if claimed is None:
        if not ChatSession.objects.filter(id=session_id).exists():
            raise NotFound("session not found")
        raise Conflict("the session is being distilled right now; try again in a moment")
    return _distil_claimed(claimed, now=now, chat_model=chat_model, embedder=embedder)


def _distil_claimed(claimed, *, now, chat_model, embedder) -> DreamingOutcome:
    """Distil a session this caller claimed at ``now`` and finish or release the claim."""
    session_id, user_id, _instance_id, classified_at, attempts = claimed
    messages = list(
        ChatMessage.objects.filter(
            session_id=session_id, role__in=[ChatMessage.ROLE_USER, ChatMessage.ROLE_ASSISTANT]
        )
        .filter(**({"sent_at__gt": classified_at} if classified_at else {}))
        .order_by("sent_at", "id")
        .values_list("id", "role", "content", "sent_at")
    )
    if not messages:
        done = _finish(session_id, claimed_at=now, classified_at=classified_at or now)
        return DreamingOutcome(session_id, "empty" if done else "lost_claim")
    newest = messages[-1][3]
    try:
        distilled = dreaming_distil(
            session_id=session_id,
            user_id=user_id,
            lines=[TranscriptLine(id_, role, content) for id_, role, content, _ in messages],
            occurred_at=newest,
            chat_model=chat_model,
            embedder=embedder,
        )
    except Exception as exc:  # noqa: BLE001 - any failure must release the claim, not leak it
        if isinstance(exc, ProviderError):
            logger.warning("dreaming: session %s failed: %s", session_id, exc)
        else:
            logger.exception("dreaming: session %s failed unexpectedly", session_id)
        attempts += 1
        status = _release(session_id, claimed_at=now, attempts=attempts, now=now, newest=newest)
        if status == "given_up":
            logger.warning("dreaming gave up on session %s after %s attempts", session_id, attempts)
        return DreamingOutcome(session_id, status, len(messages), attempts=attempts)

    # Success, or an answer without JSON: stamped either way, so it cannot loop.
    done = _finish(session_id, claimed_at=now, classified_at=newest, drafts=distilled.drafts)
    if done is None:
        return DreamingOutcome(session_id, "lost_claim", len(messages))
    status = "unparsable" if distilled.candidates is None else "distilled"
    return DreamingOutcome(
        session_id,
        status,
        len(messages),
        created=done[0],
        merged=done[1],
        memory_ids=done[2],
    )


def dreaming_sweep(
    *,
    max_items: int = 50,
    max_seconds: float = 60.0,
    on_outcome: Callable[[DreamingOutcome], None] | None = None,
    **kwargs,
) -> int:
    """Distil idle sessions until none is eligible or a budget runs out; returns the count.

    ``on_outcome`` is called after each session (progress output); ``kwargs`` go to
    :func:`dreaming_sweep_one`.
    """
    done = 0
    deadline = time.monotonic() + max_seconds
    while done < max_items and time.monotonic() < deadline:
        outcome = dreaming_sweep_one(**kwargs)
        if outcome is None:
            break
        done += 1
        if on_outcome is not None:
            on_outcome(outcome)
    return done


def dreaming_schedule_ensure() -> str:
    """Create, update or remove the django-q2 schedule that runs dreaming; describe it."""
    from django_q.models import Schedule

    if settings.DREAMING_DISABLED or settings.DREAMING_TICK_SECS == 0:
        Schedule.objects.filter(name=SCHEDULE_NAME).delete()
        return "(dreaming disabled)"
    minutes = max(1, math.ceil(settings.DREAMING_TICK_SECS / 60))
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": TICK_FUNC,
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
        },
    )
    return f"(every {minutes} min)"
