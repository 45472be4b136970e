"""A small progress bar for long management commands, written to stderr.

On a terminal the bar redraws in place (at most ten times a second); otherwise (CI logs, pipes)
it prints one line per tenth of the work, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from django.core.management.base import OutputWrapper


class Progress:
    """``with Progress("storing turns", total) as bar: bar.advance(n)``."""

    WIDTH = 30

    def __init__(self, label: str, total: int, *, stream: TextIO | OutputWrapper | None = None):
        self.label = label
        self.total = max(total, 0)
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._last_tenth = -1

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def __exit__(self, *exc) -> None:
        self._draw(force=True)
        if self.tty:
            self._write("\n")
        self.stream.flush()

    def advance(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total) if self.total else self.done + n
        self._draw()

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        share = self.done / self.total if self.total else 1.0
        tenth = int(share * 10)
        if self.tty:
            if not force and now - self._last_draw < 0.1:
                return
        elif not force and tenth == self._last_tenth:
            return
        if not self.tty and force and tenth == self._last_tenth:
            return
        self._last_draw, self._last_tenth = now, tenth
        filled = int(share * self.WIDTH)
        rate = self.done / max(now - self.started, 1e-9)
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{self.done}/{self.total} {rate:,.0f}/s"
        )
        self._write(("\r" + line) if self.tty else (line + "\n"))
        self.stream.flush()

    def _write(self, text: str) -> None:
        if isinstance(self.stream, OutputWrapper):
            self.stream.write(text, ending="")  # it would add a newline to every redraw
        else:
            self.stream.write(text)
