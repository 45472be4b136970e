"""The OpenAI-compatible chat client: OpenRouter, or any server at ``LLM_BASE_URL``.

``POST {base_url}/chat/completions`` with ``{"model", "messages", "temperature",
"max_tokens"}`` (plus ``"stream": true`` for :meth:`OpenAIChatModel.stream`), as OpenRouter,
OpenAI, Ollama, vLLM, LM Studio and the llama.cpp server all accept (DESIGN §6).

Outcomes, per call of the primary model (``request.model``):

==========================================  ===============================================
provider answer                              outcome
==========================================  ===============================================
2xx with ``choices[0].message.content``      the cleaned text (reference core §2.2)
429 / 408 / 425 / 5xx, timeout, connection   retried twice with backoff (``Retry-After``
error, a body that is not JSON               honoured), then the fallback model
other 4xx, no ``choices``, empty             not retried: the fallback model at once
``choices``, blank content, an ``error``
object in the body
==========================================  ===============================================

The fallback model (``request.fallback_model``, from the task's routing) is tried once; its
error, if any, is raised with the primary error chained as ``__cause__``. A fallback equal to
the primary model is not called again. Every failure is a
:class:`~eros.llm.base.ProviderError`.

Each call of :meth:`~OpenAIChatModel.complete` or :meth:`~OpenAIChatModel.stream` has one
overall deadline (``deadline_s``, ``LLM_DEADLINE_S``) covering every attempt, backoff and the
fallback model; a streamed reply must also have ended by then. When a distinct fallback
exists, the primary model's attempts must have answered (whole, or with a first streamed
chunk) by ``FALLBACK_SHARE`` of the budget before the end, so a hung primary still leaves the
fallback time to answer. Running out raises :class:`~eros.llm.deadline.DeadlineExceeded`.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import closing
from typing import Any, TypeVar

import httpx

from eros.jsonsafe import storable
from eros.llm.base import ChatRequest, ChatResult, ProviderError
from eros.llm.cleaning import StreamCleaner, clean_response
from eros.llm.deadline import DEFAULT_DEADLINE_S, Deadline
from eros.llm.httpclient import (
    RetryPolicy,
    attempt_timeout,
    make_client,
    post_json,
    read_body,
    read_json,
    status_error,
    transport_error,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
OPENAI_BASE_URL = "https://api.openai.com/v1"
_PATH = "chat/completions"
#: Share of a call's budget kept back for the fallback model when the primary does not answer.
FALLBACK_SHARE = 1 / 3


class OpenAIChatModel:
    """A :class:`~eros.llm.base.StreamingChatModel` over the OpenAI chat-completions format.

    ``base_url`` ends before ``/chat/completions`` (``https://openrouter.ai/api/v1``,
    ``http://127.0.0.1:11434/v1``). ``api_key`` is sent as ``Authorization: Bearer`` when not
    empty; ``headers`` are added to every request (OpenRouter's ``HTTP-Referer`` and
    ``X-Title``). Timeouts: connect 5 s, read ``timeout_s``; each call ends within
    ``deadline_s`` seconds overall (module docstring). ``retry`` sets the retry policy;
    ``transport`` replaces the network (``httpx.MockTransport`` in tests). Thread-safe.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str = "",
        name: str = "openai",
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 60.0,
        deadline_s: float = DEFAULT_DEADLINE_S,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        all_headers = {"Accept": "application/json", "User-Agent": "eros"}
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        all_headers.update(headers or {})
        self.name = name
        self.base_url = base_url
        self.deadline_s = deadline_s
        self.retry = retry or RetryPolicy()
        self._client = make_client(
            base_url=base_url, headers=all_headers, read_timeout_s=timeout_s, transport=transport
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    # --- public ---------------------------------------------------------------------------

    def complete(self, request: ChatRequest) -> ChatResult:
        """The cleaned completion of ``request`` (see the module docstring for outcomes)."""
        deadline = Deadline.within(self.deadline_s)
        return self._with_fallback(
            request, deadline, lambda model, until: self._complete_once(request, model, until)
        )

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Yield the cleaned reply in non-empty chunks as the server streams it.

        Retries and the fallback model cover failures before the first chunk, including a
        stream that ends without any text. A failure after the first chunk raises
        :class:`ProviderError` from the iterator, as does a stream still running at the
        deadline (:class:`~eros.llm.deadline.DeadlineExceeded`). Closing the iterator early
        closes the connection.
        """
        deadline = Deadline.within(self.deadline_s)

        def open_stream(model: str, until: Deadline) -> tuple[str, Generator[str, None, None]]:
            chunks = self._stream_once(request, model, first_by=until, deadline=deadline)
            try:
                first = next(chunks)
            except StopIteration:
                raise ProviderError(
                    f"{self.name}: {model} streamed no text", retryable=False
                ) from None
            except BaseException:
                chunks.close()
                raise
            return first, chunks

        first, chunks = self._with_fallback(request, deadline, open_stream)
        with closing(chunks):
            yield first
            yield from chunks

    # --- one model ------------------------------------------------------------------------

    def _with_fallback(
        self, request: ChatRequest, deadline: Deadline, attempt: Callable[[str, Deadline], T]
    ) -> T:
        """``attempt(model, answer_by)`` with retries on the primary model, then the fallback.

        The primary's attempts must answer by ``deadline`` less the fallback's share (when a
        distinct fallback exists); the fallback gets whatever is left of ``deadline``.
        """
        what = f"{self.name} {request.task} {request.model}"
        fallback = request.fallback_model
        if fallback == request.model:
            fallback = None
        primary_by = deadline
        if fallback:
            primary_by = deadline.sooner_by(deadline.budget_s * FALLBACK_SHARE)
        try:
            return self.retry.call(
                lambda: attempt(request.model, primary_by), what=what, deadline=primary_by
            )
        except ProviderError as primary:
            if not fallback:
                raise
            if deadline.expired():
                raise deadline.exceeded(what) from primary
            logger.warning("%s failed, trying fallback model %s: %s", what, fallback, primary)
            try:
                return attempt(fallback, deadline)
            except ProviderError as secondary:
                raise secondary from primary

    def _body(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if stream:
            body["stream"] = True
        return body

    def _complete_once(self, request: ChatRequest, model: str, deadline: Deadline) -> ChatResult:
        body = self._body(request, model, stream=False)
        data = post_json(self._client, self.name, _PATH, body, deadline=deadline)
        text = clean_response(self._content(data, model))
        if not text:
            raise ProviderError(f"{self.name}: {model} answered a blank reply", retryable=False)
        return ChatResult(text=text, model=model)

    def _content(self, data: Any, model: str) -> str:
        """``choices[0].message.content`` of a completion, checked strictly."""
        where = f"{self.name}: {model}"
        if not isinstance(data, dict):
            raise ProviderError(f"{where}: answer is not a JSON object", retryable=False)
        choices = data.get("choices")
        if data.get("error") is not None and not choices:
            raise _body_error(where, data["error"])
        if not isinstance(choices, list):
            raise ProviderError(f"{where}: answer has no choices", retryable=False)
        if not choices:
            raise ProviderError(f"{where}: answer has empty choices", retryable=False)
        choice = choices[0]
        if not isinstance(choice, dict):
            raise ProviderError(f"{where}: choice is not an object", retryable=False)
        if choice.get("error") is not None:
            raise _body_error(where, choice["error"])
        message = choice.get("message")
        if not isinstance(message, dict):
            raise ProviderError(f"{where}: choice has no message", retryable=False)
        content = _text_of(message.get("content"))
        if content is None:
            raise ProviderError(f"{where}: message has no text content", retryable=False)
        return content

    def _stream_once(
        self, request: ChatRequest, model: str, *, first_by: Deadline, deadline: Deadline
    ) -> Generator[str, None, None]:
        """One streamed attempt: a first chunk by ``first_by``, the end by ``deadline``."""
        where = f"{self.name}: {model}"
        body = self._body(request, model, stream=True)
        cleaner = StreamCleaner()
        shown_any = False

        def current() -> Deadline:
            return deadline if shown_any else first_by

        def pieces(response: httpx.Response) -> Iterator[bytes]:
            for piece in response.iter_bytes():
                yield piece
                # After each piece, not per line: a trickle without newlines is still caught.
                current().check(where)

        try:
            timeout = attempt_timeout(where, self._client.timeout, first_by)
            with self._client.stream(
                "POST", _PATH, json=body, headers={"Accept": "text/event-stream"}, timeout=timeout
            ) as response:
                if not response.is_success:
                    raise status_error(self.name, read_body(where, response, first_by))
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    # A server that ignores "stream": true answers one JSON completion.
                    whole = read_body(where, response, first_by)
                    text = clean_response(self._content(read_json(self.name, whole), model))
                    if text:
                        yield text
                    return
                for data in _sse_data(_lines(pieces(response))):
                    if data == "[DONE]":
                        break
                    piece = _delta_text(where, data)
                    if piece:
                        shown = cleaner.feed(piece)
                        if shown:
                            shown_any = True
                            yield shown
        except httpx.HTTPError as exc:
            raise transport_error(self.name, exc, current()) from exc
        tail = cleaner.finish()
        if tail:
            yield tail


def _text_of(content: Any) -> str | None:
    """Message content as text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        texts = [p for p in parts if isinstance(p, str)]
        return "".join(texts) if texts else None
    return None


def _body_error(where: str, error: Any) -> ProviderError:
    """An ``error`` object inside a 2xx body (OpenRouter relays upstream failures this way)."""
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    status = code if isinstance(code, int) and not isinstance(code, bool) else None
    retryable = status is not None and (status in (408, 425, 429) or status >= 500)
    return ProviderError(f"{where}: provider error {code}: {message}", retryable=retryable)


_LINE_END = re.compile(r"\r\n|\r|\n")


def _lines(pieces: Iterator[bytes]) -> Iterator[str]:
    """UTF-8 text lines of a byte stream; CRLF, CR and LF each end a line (SSE's rule)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = ""
    for piece in pieces:
        buffer += decoder.decode(piece)
        while True:
            match = _LINE_END.search(buffer)
            # A CR at the very end may be the first half of a CRLF split across pieces.
            if match is None or (match.group() == "\r" and match.end() == len(buffer)):
                break
            yield buffer[: match.start()]
            buffer = buffer[match.end() :]
    # What is left holds no line end, except perhaps that trailing CR.
    buffer += decoder.decode(b"", final=True)
    if buffer:
        yield buffer.removesuffix("\r")


def _sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined with newlines)."""
    buffer: list[str] = []
    for line in lines:
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith(":"):
            continue  # a comment, e.g. OpenRouter's ": OPENROUTER PROCESSING" keep-alive
        name, _, value = line.partition(":")
        if name == "data":
            buffer.append(value[1:] if value.startswith(" ") else value)
    if buffer:
        yield "\n".join(buffer)


def _delta_text(where: str, data: str) -> str:
    """The text delta of one streamed chunk (``choices[0].delta.content``), maybe ``""``."""
    try:
        event = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ProviderError(
            f"{where}: malformed stream event: {data[:200]}", retryable=True
        ) from exc
    if not isinstance(event, dict):
        raise ProviderError(f"{where}: stream event is not an object", retryable=False)
    if event.get("error") is not None:
        raise _body_error(where, event["error"])
    choices = event.get("choices")
    if not choices:
        return ""  # keep-alive or a final usage-only chunk
    if not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise ProviderError(f"{where}: stream event has malformed choices", retryable=False)
    delta = choices[0].get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    # Text that PostgreSQL and UTF-8 cannot hold (NUL, lone surrogates) becomes U+FFFD.
    return storable(content) if isinstance(content, str) else ""
