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
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import closing
from typing import Any, TypeVar

import httpx

from eros.jsonsafe import storable
from eros.llm.base import ChatRequest, ChatResult, ProviderError
from eros.llm.cleaning import StreamCleaner, clean_response
from eros.llm.httpclient import (
    RetryPolicy,
    make_client,
    post_json,
    read_json,
    status_error,
    transport_error,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
OPENAI_BASE_URL = "https://api.openai.com/v1"
_PATH = "chat/completions"


class OpenAIChatModel:
    """A :class:`~eros.llm.base.StreamingChatModel` over the OpenAI chat-completions format.

    ``base_url`` ends before ``/chat/completions`` (``https://openrouter.ai/api/v1``,
    ``http://127.0.0.1:11434/v1``). ``api_key`` is sent as ``Authorization: Bearer`` when not
    empty; ``headers`` are added to every request (OpenRouter's ``HTTP-Referer`` and
    ``X-Title``). Timeouts: connect 5 s, read ``timeout_s``. ``retry`` sets the retry policy;
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
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        all_headers = {"Accept": "application/json", "User-Agent": "eros"}
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        all_headers.update(headers or {})
        self.name = name
        self.base_url = base_url
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
        return self._with_fallback(request, lambda model: self._complete_once(request, model))

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Yield the cleaned reply in non-empty chunks as the server streams it.

        Retries and the fallback model cover failures before the first chunk, including a
        stream that ends without any text. A failure after the first chunk raises
        :class:`ProviderError` from the iterator. Closing the iterator early closes the
        connection.
        """

        def open_stream(model: str) -> tuple[str, Generator[str, None, None]]:
            chunks = self._stream_once(request, model)
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

        first, chunks = self._with_fallback(request, open_stream)
        with closing(chunks):
            yield first
            yield from chunks

    # --- one model ------------------------------------------------------------------------

    def _with_fallback(self, request: ChatRequest, attempt: Callable[[str], T]) -> T:
        what = f"{self.name} {request.task} {request.model}"
        try:
            return self.retry.call(lambda: attempt(request.model), what=what)
        except ProviderError as primary:
            fallback = request.fallback_model
            if not fallback or fallback == request.model:
                raise
            logger.warning("%s failed, trying fallback model %s: %s", what, fallback, primary)
            try:
                return attempt(fallback)
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

    def _complete_once(self, request: ChatRequest, model: str) -> ChatResult:
        data = post_json(self._client, self.name, _PATH, self._body(request, model, stream=False))
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

    def _stream_once(self, request: ChatRequest, model: str) -> Generator[str, None, None]:
        where = f"{self.name}: {model}"
        body = self._body(request, model, stream=True)
        cleaner = StreamCleaner()
        try:
            with self._client.stream(
                "POST", _PATH, json=body, headers={"Accept": "text/event-stream"}
            ) as response:
                if not response.is_success:
                    response.read()
                    raise status_error(self.name, response)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    # A server that ignores "stream": true answers one JSON completion.
                    response.read()
                    text = clean_response(self._content(read_json(self.name, response), model))
                    if text:
                        yield text
                    return
                for data in _sse_data(response.iter_lines()):
                    if data == "[DONE]":
                        break
                    piece = _delta_text(where, data)
                    if piece:
                        shown = cleaner.feed(piece)
                        if shown:
                            yield shown
        except httpx.HTTPError as exc:
            raise transport_error(self.name, exc) from exc
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
