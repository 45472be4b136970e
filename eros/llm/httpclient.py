"""What every HTTP model provider shares: timeouts, error classification and bounded retries.

A provider call either returns parsed data or raises :class:`~eros.llm.base.ProviderError`
whose ``retryable`` says whether trying again can help (DESIGN §6, §9 item 8):

* 429, 408, 425 and 5xx responses, timeouts and other transport errors are retryable;
  a ``Retry-After`` header (seconds or an HTTP date) is kept on the error;
* any other status (400 bad request, 401/403 bad key, 402 no credit, 404 unknown model, …)
  is permanent.

:class:`RetryPolicy` retries retryable errors with exponential backoff (tenacity), waiting
exactly ``Retry-After`` when the provider names a time, and gives up at once when that time
is longer than ``max_retry_after_s``: a provider asking for minutes of silence is better
served by the fallback model than by a blocked reply.

Given a :class:`~eros.llm.deadline.Deadline`, a call also ends when its overall time is up,
however the provider behaves: each attempt's socket timeouts are cut to what remains, the
body is read piece by piece with the deadline checked after each piece (a server trickling
one byte at a time never trips a read timeout), and no backoff sleep runs past it. The call
then raises :class:`~eros.llm.deadline.DeadlineExceeded`.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import tenacity

from eros.jsonsafe import storable
from eros.llm.base import ProviderError
from eros.llm.deadline import Deadline, DeadlineExceeded

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Seconds to wait for a TCP/TLS connection (DESIGN §6).
CONNECT_TIMEOUT_S = 5.0
#: Retries after the first attempt (DESIGN §6: two).
DEFAULT_MAX_RETRIES = 2
RETRYABLE_STATUSES = frozenset({408, 425, 429})
_BODY_SNIPPET = 300


def make_client(
    *,
    base_url: str,
    headers: Mapping[str, str],
    read_timeout_s: float,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An ``httpx.Client`` for one provider: connect timeout 5 s, read/write ``read_timeout_s``.

    ``transport`` replaces the network (``httpx.MockTransport`` in tests).
    """
    return httpx.Client(
        base_url=base_url.rstrip("/") + "/",
        headers=dict(headers),
        timeout=httpx.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S),
        transport=transport,
        follow_redirects=False,
    )


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    Returns None when the header is absent or unreadable; a date in the past gives 0.0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _snippet(response: httpx.Response) -> str:
    try:
        text = response.text
    except (httpx.HTTPError, UnicodeDecodeError):
        return ""
    return " ".join(text.split())[:_BODY_SNIPPET]


def status_error(provider: str, response: httpx.Response) -> ProviderError:
    """The :class:`ProviderError` for a non-2xx response (body must already be read)."""
    status = response.status_code
    retryable = status in RETRYABLE_STATUSES or status >= 500
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    message = f"{provider}: HTTP {status}"
    snippet = _snippet(response)
    if snippet:
        message += f": {snippet}"
    return ProviderError(message, retryable=retryable, status=status, retry_after=retry_after)


def transport_error(
    provider: str, exc: httpx.HTTPError, deadline: Deadline | None = None
) -> ProviderError:
    """The :class:`ProviderError` for a timeout or connection failure (retryable).

    A timeout that fired because ``deadline`` passed (its timeouts were cut to fit) is
    :class:`~eros.llm.deadline.DeadlineExceeded`.
    """
    if deadline is not None and deadline.expired():
        return deadline.exceeded(provider)
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(f"{provider}: timed out ({type(exc).__name__})", retryable=True)
    permanent = isinstance(exc, httpx.UnsupportedProtocol)
    return ProviderError(f"{provider}: {type(exc).__name__}: {exc}", retryable=not permanent)


def read_json(provider: str, response: httpx.Response) -> Any:
    """The JSON body of a 2xx response, made :func:`~eros.jsonsafe.storable` (NUL characters and
    lone surrogates become U+FFFD); a body that is not JSON is a retryable error.

    A truncated or HTML body from a proxy can be a one-off, so it is worth one more try; so is
    JSON nested too deeply to decode.
    """
    try:
        return storable(response.json())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProviderError(
            f"{provider}: response is not valid JSON ({exc}): {_snippet(response)}",
            retryable=True,
            status=response.status_code,
        ) from exc


def attempt_timeout(provider: str, base: httpx.Timeout, deadline: Deadline | None) -> httpx.Timeout:
    """``base`` with every phase (connect, read, write, pool) cut to what ``deadline`` leaves.

    Raises :class:`~eros.llm.deadline.DeadlineExceeded` when nothing is left.
    """
    if deadline is None:
        return base
    # A zero socket timeout would mean "non-blocking", not "no time": refuse before that.
    left = deadline.remaining()
    if left <= 0.001:
        raise deadline.exceeded(provider)

    def cut(value: float | None) -> float:
        return left if value is None else min(value, left)

    return httpx.Timeout(
        connect=cut(base.connect), read=cut(base.read), write=cut(base.write), pool=cut(base.pool)
    )


def read_body(provider: str, response: httpx.Response, deadline: Deadline | None) -> httpx.Response:
    """Read a streamed ``response`` to the end and return it as an ordinary, read response.

    The deadline is checked after every piece the network hands over, so a server sending a
    byte every second cannot hold the call past it (each byte would restart a read timeout).
    Raises :class:`~eros.llm.deadline.DeadlineExceeded`; transport errors propagate.
    """
    pieces = []
    for piece in response.iter_bytes():
        pieces.append(piece)
        if deadline is not None:
            deadline.check(provider)
    # iter_bytes() has undone any content-encoding, so the copy must not claim one.
    headers = response.headers.copy()
    headers.pop("content-encoding", None)
    headers.pop("content-length", None)
    return httpx.Response(
        response.status_code, headers=headers, content=b"".join(pieces), request=response.request
    )


def post_json(
    client: httpx.Client,
    provider: str,
    path: str,
    body: Mapping[str, Any],
    *,
    deadline: Deadline | None = None,
) -> Any:
    """POST ``body`` to ``path`` and return the JSON answer, or raise :class:`ProviderError`.

    With ``deadline``, the request ends by then (:class:`~eros.llm.deadline.DeadlineExceeded`).
    """
    timeout = attempt_timeout(provider, client.timeout, deadline)
    try:
        with client.stream("POST", path, json=body, timeout=timeout) as streamed:
            response = read_body(provider, streamed, deadline)
    except httpx.HTTPError as exc:
        raise transport_error(provider, exc, deadline) from exc
    if not response.is_success:
        raise status_error(provider, response)
    return read_json(provider, response)


@dataclass
class RetryPolicy:
    """Bounded retries of retryable :class:`ProviderError` s.

    Up to ``max_retries`` retries after the first attempt. The wait before retry *n* (1-based)
    is the error's ``retry_after`` when it has one, else ``backoff_s · 2^(n−1)`` (at most
    ``max_backoff_s``) stretched by up to 25 % random jitter so that many workers do not retry
    in step. An error whose ``retry_after`` exceeds ``max_retry_after_s`` is not retried.
    ``sleep`` is injectable so tests can record waits instead of sleeping.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, ProviderError) or not exc.retryable:
            return False
        if isinstance(exc, DeadlineExceeded):
            return False  # the budget is spent; another attempt cannot fit
        return exc.retry_after is None or exc.retry_after <= self.max_retry_after_s

    def wait(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, ProviderError) and exc.retry_after is not None:
            return exc.retry_after
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (retry_state.attempt_number - 1))
        return base * (1.0 + 0.25 * random.random())

    def call(
        self, fn: Callable[[], T], *, what: str = "call", deadline: Deadline | None = None
    ) -> T:
        """Run ``fn`` with retries; the last error is re-raised unchanged.

        With ``deadline``, no retry starts when its wait would not end before the deadline;
        the call then raises :class:`~eros.llm.deadline.DeadlineExceeded` chained to the last
        error. ``fn`` itself is expected to honour the same deadline within an attempt.
        """
        out_of_time = False

        def stop(retry_state: tenacity.RetryCallState) -> bool:
            nonlocal out_of_time
            if retry_state.attempt_number >= self.max_retries + 1:
                return True
            # upcoming_sleep is the wait tenacity has just chosen for the next retry.
            if deadline is not None and retry_state.upcoming_sleep >= deadline.remaining():
                out_of_time = True
                return True
            return False

        def give_up(retry_state: tenacity.RetryCallState) -> T:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            if out_of_time and deadline is not None:
                raise deadline.exceeded(what) from exc
            assert exc is not None
            raise exc

        def log(retry_state: tenacity.RetryCallState) -> None:
            exc = retry_state.outcome.exception() if retry_state.outcome else None
            wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
            logger.warning(
                "%s failed (attempt %d), retrying in %.2fs: %s",
                what,
                retry_state.attempt_number,
                wait,
                exc,
            )

        retrying = tenacity.Retrying(
            stop=stop,
            retry=tenacity.retry_if_exception(self.should_retry),
            wait=self.wait,
            sleep=self.sleep,
            before_sleep=log,
            retry_error_callback=give_up,
        )
        return retrying(fn)
