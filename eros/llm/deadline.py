"""Overall deadlines for model calls: retries, backoff and the fallback model included.

Read timeouts alone never end a call to a provider that keeps sending a byte now and then:
each byte resets the timer. A :class:`Deadline` is a point on the monotonic clock by which a
call must be over; the HTTP clients check it between attempts, before each backoff sleep and
after every piece of body they read, and never give one attempt a socket timeout longer than
what remains. Passing it raises :class:`DeadlineExceeded`, a :class:`ProviderError`, so a
chat turn ends as 502 ``upstream_error`` with the turn ``failed`` like any provider failure.

:func:`deadline_scope` (or the :func:`shares_deadline` decorator) makes every model call in
a block share one deadline as well: a chat turn's recall embedding and its chat completion
together finish within ``LLM_DEADLINE_S``, well inside the worker's timeout.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from eros.llm.base import ProviderError

P = ParamSpec("P")
R = TypeVar("R")

#: Seconds one model call may take when no deadline is configured (DESIGN §6, ``LLM_DEADLINE_S``).
DEFAULT_DEADLINE_S = 90.0

# The earliest enclosing scope's end, in time.monotonic() seconds; None outside any scope.
_scope_end: ContextVar[float | None] = ContextVar("eros_llm_deadline", default=None)


class DeadlineExceeded(ProviderError):
    """A model call ran out of its overall time budget.

    Retryable in the sense of :class:`ProviderError` (a later call may well be faster), but
    never retried within the call that ran out: the budget is spent.
    """

    def __init__(self, message: str):
        super().__init__(message, retryable=True)


@dataclass(frozen=True)
class Deadline:
    """The moment (``time.monotonic()`` seconds) by which a model call must have finished.

    ``budget_s`` is how many seconds the call had when the deadline was set (for messages and
    for splitting the budget between a primary and a fallback model).
    """

    at: float
    budget_s: float

    @classmethod
    def within(cls, seconds: float) -> Deadline:
        """``seconds`` from now, or the end of the enclosing :func:`deadline_scope` if sooner."""
        now = time.monotonic()
        at = now + seconds
        scope_end = _scope_end.get()
        if scope_end is not None and scope_end < at:
            at = scope_end
        return cls(at=at, budget_s=max(0.0, at - now))

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self.at - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.at

    def sooner_by(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` earlier (a share of the budget kept back for a fallback)."""
        return Deadline(at=self.at - seconds, budget_s=max(0.0, self.budget_s - seconds))

    def check(self, where: str) -> None:
        """Raise :class:`DeadlineExceeded` naming ``where`` once the deadline has passed."""
        if self.expired():
            raise self.exceeded(where)

    def exceeded(self, where: str) -> DeadlineExceeded:
        return DeadlineExceeded(f"{where}: no answer within the {self.budget_s:.3g}s deadline")


@contextmanager
def deadline_scope(seconds: float) -> Iterator[None]:
    """Every model call inside the block ends within ``seconds`` of entering it.

    Scopes nest (the sooner end wins); a call's own deadline still applies when it is sooner.
    The scope follows the context (``contextvars``): a thread started inside does not inherit
    it.
    """
    end = time.monotonic() + seconds
    outer = _scope_end.get()
    token = _scope_end.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _scope_end.reset(token)


def shares_deadline(seconds: Callable[[], float]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: each call of the function runs in a :func:`deadline_scope` of ``seconds()``.

    ``seconds`` is read at call time, so settings changed later (or in tests) apply.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with deadline_scope(seconds()):
                return fn(*args, **kwargs)

        return wrapper

    return decorate
