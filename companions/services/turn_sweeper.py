"""The stuck-turn sweeper: no chat turn stays ``pending`` after its worker is gone.

A turn's model calls end within ``LLM_DEADLINE_S``, below the worker's timeout
(``Q_TIMEOUT_S``), so a turn still ``pending`` ``TURN_STALE_AFTER_S`` seconds after its user
message was stored has lost whatever was running it: the django-q2 worker was stopped at its
timeout or died, or the web process serving a synchronous turn went away. The sweeper marks
such a turn ``failed`` and writes its ``system_error`` row, exactly as a provider failure
does, so the pending route reports ``error`` and the client can retry.

Two entry points share one rule:

* :func:`turns_fail_stale` runs on a django-q2 schedule (:func:`turn_sweep_schedule_ensure`,
  every minute, ``companions.tasks.turn_sweep_tick``) over every stuck turn;
* :func:`turn_fail_if_stale` settles one turn when its pending route is polled, so a client
  sees ``error`` even where no schedule runs.

Race with a late worker: the pipeline persists an outcome only by a conditional UPDATE that
claims a ``pending`` row, and the sweeper fails a turn by the same kind of claim, so whichever
commits first wins and the other changes nothing (PostgreSQL re-checks the ``WHERE`` of an
UPDATE that waited for a row lock). A turn that ends failed has exactly one ``system_error``
row; a replied turn has none.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from companions.models import ChatMessage

logger = logging.getLogger(__name__)

#: Name of the django-q2 schedule that runs :func:`turns_fail_stale`.
SCHEDULE_NAME = "eros-stuck-turns"
SCHEDULE_FUNC = "companions.tasks.turn_sweep_tick"
#: Turns settled per transaction; the scheduled run loops until none is left.
BATCH = 200


def _cutoff(now: datetime | None, stale_after_s: float | None) -> tuple[datetime, float]:
    now = now or timezone.now()
    seconds = settings.TURN_STALE_AFTER_S if stale_after_s is None else stale_after_s
    return now - timedelta(seconds=seconds), seconds


def _error_row(message_id, session_id, *, seconds: float, now: datetime) -> ChatMessage:
    return ChatMessage(
        session_id=session_id,
        role=ChatMessage.ROLE_SYSTEM_ERROR,
        content=(
            f"reply failed: no outcome within {seconds:g}s "
            "(the worker running the turn timed out or stopped)"
        ),
        sent_at=now,
        reply_to_id=message_id,
        context={"stuck_turn": True, "stale_after_s": seconds},
    )


def turns_fail_stale(
    *,
    now: datetime | None = None,
    stale_after_s: float | None = None,
    max_turns: int = 10_000,
) -> int:
    """Mark every user message pending for over ``stale_after_s`` seconds ``failed``.

    ``stale_after_s`` defaults to ``TURN_STALE_AFTER_S``; age is measured from the message's
    ``sent_at`` to ``now``. Each failed turn gets one ``system_error`` row (``reply_to_id`` =
    the user message). Works in batches of :data:`BATCH`, one short transaction each, up to
    ``max_turns``; returns how many turns it failed. Rows a worker holds locked at that moment
    (it is persisting an outcome) are skipped, never waited for: that worker wins.
    """
    done = 0
    while done < max_turns:
        failed = _fail_batch(
            now=now, stale_after_s=stale_after_s, limit=min(BATCH, max_turns - done)
        )
        done += failed
        if failed == 0:
            break
    if done:
        logger.warning("marked %d stuck turn(s) failed", done)
    return done


def _fail_batch(*, now: datetime | None, stale_after_s: float | None, limit: int) -> int:
    cutoff, seconds = _cutoff(now, stale_after_s)
    written_at = timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: a row locked by a worker's outcome write is that worker's to settle,
        # and the lock keeps the rows taken here pending until this transaction commits.
        stuck = list(
            ChatMessage.objects.select_for_update(skip_locked=True)
            .filter(
                role=ChatMessage.ROLE_USER,
                turn_status=ChatMessage.TURN_PENDING,
                sent_at__lt=cutoff,
            )
            .order_by("sent_at")
            .values_list("id", "session_id")[:limit]
        )
        if not stuck:
            return 0
        ChatMessage.objects.filter(
            id__in=[message_id for message_id, _ in stuck], turn_status=ChatMessage.TURN_PENDING
        ).update(turn_status=ChatMessage.TURN_FAILED)
        ChatMessage.objects.bulk_create(
            [
                _error_row(message_id, session_id, seconds=seconds, now=written_at)
                for message_id, session_id in stuck
            ]
        )
    return len(stuck)


def turn_fail_if_stale(
    *, user_message: ChatMessage, now: datetime | None = None, stale_after_s: float | None = None
) -> bool:
    """Fail one turn if it is still pending and older than ``stale_after_s``; True if it did.

    For the pending route: ``user_message.turn_status`` is updated in place either way (to
    ``failed``, or to whatever outcome the turn has by now). If a worker is persisting an
    outcome at this moment, this waits for its transaction and then changes nothing.
    """
    cutoff, seconds = _cutoff(now, stale_after_s)
    if user_message.turn_status != ChatMessage.TURN_PENDING or user_message.sent_at >= cutoff:
        return False
    with transaction.atomic():
        claimed = ChatMessage.objects.filter(
            id=user_message.id, turn_status=ChatMessage.TURN_PENDING, sent_at__lt=cutoff
        ).update(turn_status=ChatMessage.TURN_FAILED)
        if claimed:
            _error_row(
                user_message.id, user_message.session_id, seconds=seconds, now=timezone.now()
            ).save(force_insert=True)
    if claimed:
        logger.warning("marked stuck turn %s failed", user_message.id)
        user_message.turn_status = ChatMessage.TURN_FAILED
    else:
        user_message.refresh_from_db(fields=["turn_status"])
    return bool(claimed)


def turn_sweep_schedule_ensure() -> str:
    """Create or update the django-q2 schedule of the stuck-turn sweeper; describe it."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": SCHEDULE_FUNC,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
    return f"(every minute; turns pending over {settings.TURN_STALE_AFTER_S}s fail)"
