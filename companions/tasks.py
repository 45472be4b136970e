"""django-q2 entry points of the companions app: take ids, call a service.

``post_process_turn`` is the one task the reply path enqueues (on commit). It fans out into
one independent task per part (affinity; insight, which also writes the turn's memories and
refreshes the session's lead score), so a failure in one part (say, the insight model) never
blocks another (say, the affinity update).

Each part runs through :func:`post_process_part`, which gives it a bounded number of
attempts (``POST_PROCESS_MAX_ATTEMPTS``): a retryable failure (a retryable
``ProviderError``, or a lost database connection) schedules the next attempt
``POST_PROCESS_RETRY_S × 2^(attempt−1)`` seconds later as a one-off django-q2 schedule,
so no worker sleeps through a backoff. Any other failure, or the last attempt's, is raised:
django-q2 records it as a failed task (admin, "Failed tasks") and, because parts are enqueued
with ``ack_failure``, does not deliver it again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

POST_PROCESS_PARTS = {
    "affinity": "companions.tasks.affinity_update_turn",
    "insight": "companions.tasks.insight_update_turn",
}
#: Parts that are no longer enqueued but may still sit in a queue or a retry schedule
#: written before an upgrade; they run once more and go in the next release. (``memory``:
#: the insight part writes the turn's memories now; the old part runs it, a no-op once done.)
LEGACY_PARTS = {
    "lead": "companions.tasks.lead_score_refresh_turn",
    "memory": "companions.tasks.memory_write_turn",
}
PART_FUNC = "companions.tasks.post_process_part"

logger = logging.getLogger(__name__)


def post_process_turn(user_message_id: str) -> int:
    """Enqueue every post-process part of a replied turn; returns how many were handed over.

    A part that cannot be handed over is logged and skipped, never stopping the others. (In
    django-q2's sync mode, used by tests, "handing over" runs the part in-process and its
    error surfaces here.)
    """
    from django_q.tasks import async_task

    handed = 0
    for part in POST_PROCESS_PARTS:
        try:
            async_task(
                PART_FUNC,
                part,
                str(user_message_id),
                1,
                task_name=f"{part} {user_message_id}",
                group="post-process",
                ack_failure=True,
            )
        except Exception:
            logger.exception("post-process %s for %s failed", part, user_message_id)
        else:
            handed += 1
    return handed


def is_retryable(exc: BaseException) -> bool:
    """Whether a later attempt may succeed: provider hiccups and lost database connections."""
    from django.db import InterfaceError, OperationalError

    from eros.llm.base import ProviderError

    if isinstance(exc, ProviderError):
        return exc.retryable
    return isinstance(exc, OperationalError | InterfaceError)


def retry_delay_s(attempt: int) -> int:
    """Seconds before attempt ``attempt + 1``: ``POST_PROCESS_RETRY_S × 2^(attempt−1)``."""
    from django.conf import settings

    return settings.POST_PROCESS_RETRY_S * 2 ** (attempt - 1)


def post_process_part(part: str, user_message_id: str, attempt: int = 1) -> Any:
    """Run one post-process part (a key of ``POST_PROCESS_PARTS``) for a turn.

    Returns the part's result, or ``{"retry": n, "in_s": s, "error": text}`` when attempt
    ``n`` has been scheduled. Raises the part's error when it is not retryable or when
    ``attempt`` is the last one (``POST_PROCESS_MAX_ATTEMPTS``). ``KeyError`` for an unknown
    part (a key of ``LEGACY_PARTS`` is still run).
    """
    from django.conf import settings
    from django.utils.module_loading import import_string

    func = import_string(POST_PROCESS_PARTS.get(part) or LEGACY_PARTS[part])
    try:
        return func(user_message_id)
    except Exception as exc:
        if not is_retryable(exc) or attempt >= settings.POST_PROCESS_MAX_ATTEMPTS:
            logger.error(
                "post-process %s for %s failed on attempt %d, giving up: %s",
                part,
                user_message_id,
                attempt,
                exc,
            )
            raise
        delay = retry_delay_s(attempt)
        _schedule_attempt(part, user_message_id, attempt + 1, delay)
        logger.warning(
            "post-process %s for %s failed on attempt %d, retrying in %ds: %s",
            part,
            user_message_id,
            attempt,
            delay,
            exc,
        )
        return {"retry": attempt + 1, "in_s": delay, "error": str(exc)[:200]}


def _schedule_attempt(part: str, user_message_id: str, attempt: int, delay_s: int) -> None:
    from django.db import IntegrityError
    from django.utils import timezone
    from django_q.models import Schedule
    from django_q.tasks import schedule

    name = f"post-process {part} {user_message_id} #{attempt}"
    try:
        schedule(
            PART_FUNC,
            part,
            str(user_message_id),
            attempt,
            name=name,
            schedule_type=Schedule.ONCE,
            next_run=timezone.now() + timedelta(seconds=delay_s),
            q_options={
                "task_name": f"{part} {user_message_id} #{attempt}",
                "group": "post-process",
                "ack_failure": True,
            },
        )
    except IntegrityError:
        # Already scheduled by an earlier delivery of this same attempt.
        logger.info("%s is already scheduled", name)


def affinity_update_turn(user_message_id: str) -> str | None:
    """The affinity part; returns the event's source (``llm`` or ``rules``) or None."""
    from companions.services.post_process import affinity_update_turn as update

    event = update(user_message_id=user_message_id)
    return event.context.get("source") if event else None


def turn_run_queued(user_message_id: str, memory_scope: str, affinity_axes: list[str]) -> str:
    from companions.services.chat_pipeline import turn_run_queued as run

    return run(
        user_message_id=user_message_id, memory_scope=memory_scope, affinity_axes=affinity_axes
    )


def memory_write_turn(user_message_id: str) -> int:
    """The former memory part (runs the insight part); returns how many memory rows were
    written or merged into."""
    from companions.services.post_process import memory_write_turn as write

    return len(write(user_message_id=user_message_id))


def insight_update_turn(user_message_id: str) -> list[str]:
    """The insight part (profile fields, the turn's memories, the lead score); returns the
    names of the fields merged."""
    from companions.services.post_process import insight_update_turn as update

    return sorted(update(user_message_id=user_message_id))


def lead_score_refresh_turn(user_message_id: str) -> float | None:
    """The former lead-score part, for tasks queued before the insight part took it over."""
    from companions.services.post_process import lead_score_refresh_turn as refresh

    return refresh(user_message_id=user_message_id)


def dreaming_tick() -> int:
    """Scheduled dreaming run: distil idle sessions within a time budget."""
    from django.conf import settings

    from companions.services.dreaming import dreaming_sweep

    if settings.DREAMING_DISABLED:
        return 0
    return dreaming_sweep(max_seconds=max(settings.DREAMING_TICK_SECS * 0.8, 10))


def turn_sweep_tick() -> int:
    """Scheduled every minute: fail turns whose worker timed out or died; returns how many."""
    from companions.services.turn_sweeper import turns_fail_stale

    return turns_fail_stale()
