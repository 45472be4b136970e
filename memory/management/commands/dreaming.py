"""``python manage.py dreaming [--once | --loop | --session ID]``: distil sessions into memories.

``--session ID`` distils that one session now, idle or not, with the sweeper's own claim (it
waits for nobody: a session another sweeper holds right now is an error), and exits.

``--once`` (the default) distils every eligible session and exits; ``--loop`` keeps sweeping,
one sweep every ``--interval`` seconds (default ``DREAMING_TICK_SECS``), until SIGINT/SIGTERM,
finishing the session in hand first. Any number of these can run beside the django-q2 schedule:
sessions are claimed with ``FOR UPDATE SKIP LOCKED``. One line per session on stdout, a summary
per sweep. The chat model and embedder are the configured ones.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from companions.services.dreaming import (
    DreamingOutcome,
    dreaming_backlog,
    dreaming_distil_session,
    dreaming_sweep_one,
)
from eros.errors import AppError


class Command(BaseCommand):
    help = "Distil idle chat sessions into categorised long-term memories."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="one sweep, then exit (default)")
        mode.add_argument("--loop", action="store_true", help="sweep until interrupted")
        mode.add_argument(
            "--session",
            type=uuid.UUID,
            default=None,
            metavar="ID",
            help="distil this one session now, idle or not, and exit",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="seconds between sweeps with --loop (default DREAMING_TICK_SECS)",
        )
        parser.add_argument(
            "--max-items", type=int, default=0, help="sessions per sweep at most (0 = no limit)"
        )

    def handle(self, *args, once, loop, interval, max_items, session=None, **options):
        if session is not None:
            try:
                outcome = dreaming_distil_session(session_id=session)
            except AppError as exc:
                raise CommandError(exc.message) from None
            self._report(1, 1, outcome)
            return
        stop = threading.Event()
        if loop and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
        interval = settings.DREAMING_TICK_SECS if interval is None else interval
        while True:
            self._sweep(max_items=max_items, stop=stop)
            if not loop or stop.wait(max(interval, 1.0)):
                break
        if loop:
            self.stdout.write("dreaming: stopped")

    def _sweep(self, *, max_items: int, stop: threading.Event) -> None:
        started = time.monotonic()
        backlog = dreaming_backlog()
        statuses: Counter[str] = Counter()
        created = merged = 0
        self.stderr.write(f"dreaming: {backlog} idle session(s) to distil")
        while not stop.is_set() and (max_items <= 0 or sum(statuses.values()) < max_items):
            outcome = dreaming_sweep_one()
            if outcome is None:
                break
            statuses[outcome.status] += 1
            created += outcome.created
            merged += outcome.merged
            self._report(sum(statuses.values()), max(backlog, sum(statuses.values())), outcome)
        done = sum(statuses.values())
        detail = ", ".join(f"{status} {n}" for status, n in sorted(statuses.items()))
        self.stdout.write(
            f"{timezone.now():%Y-%m-%d %H:%M:%S} dreaming: {done} session(s) in "
            f"{time.monotonic() - started:.1f} s"
            + (f" ({detail}); memories: {created} new, {merged} merged" if done else "")
        )

    def _report(self, index: int, total: int, outcome: DreamingOutcome) -> None:
        line = f"[{index}/{total}] {outcome.status:<10} session {outcome.session_id}"
        if outcome.status in ("distilled", "unparsable"):
            line += (
                f": {outcome.messages} message(s) -> {outcome.created} new, {outcome.merged} merged"
            )
        elif outcome.status in ("retry", "given_up"):
            line += f": attempt {outcome.attempts} of {settings.DREAMING_MAX_ATTEMPTS}"
        self.stdout.write(line)
