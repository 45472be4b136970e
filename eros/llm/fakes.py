"""Test doubles for the model protocols: scripted chat replies and predictable embeddings.

Inject them through a service's optional ``chat_model=`` / ``embedder=`` keyword or the
settings switch (``EROS_CHAT_MODEL`` / ``EROS_EMBEDDER``); never ``mock.patch`` our own code
(STYLE.md, "Fakes over mocks").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from eros.llm.base import ChatModel, ChatRequest, ChatResult, ProviderError
from eros.llm.chunks import word_chunks
from eros.llm.embeddings_local import DEFAULT_DIM, LocalEmbedder


def _default_error() -> ProviderError:
    return ProviderError("fake provider failure", retryable=True, status=503)


def unit_vector(seed: int, dim: int = DEFAULT_DIM) -> list[float]:
    """A list of ``dim`` floats with 1.0 at index ``seed % dim`` and 0.0 elsewhere.

    Two texts mapped to the same seed have cosine similarity 1.0; different seeds (mod
    ``dim``) give 0.0.
    """
    vector = [0.0] * dim
    vector[seed % dim] = 1.0
    return vector


class FakeChatModel:
    """A scripted :class:`~eros.llm.base.ChatModel` that records every request.

    ``replies`` is either a list of texts returned in order (the last one repeats once the list
    is used up) or a callable ``request -> text``; ``None`` answers ``"fake reply"``. Texts are
    returned verbatim (no cleaning) with ``model`` = the requested model. ``fail_on`` holds
    1-based call numbers that raise ``error`` (default: a retryable 503
    :class:`~eros.llm.base.ProviderError`) instead of answering; :meth:`fail_next` does the
    same for the next call. Failed calls are recorded too and do not consume a reply.
    """

    name = "fake"

    def __init__(
        self,
        replies: Sequence[str] | Callable[[ChatRequest], str] | None = None,
        *,
        fail_on: Iterable[int] = (),
        error: ProviderError | None = None,
    ):
        self._replies = replies
        self._next_reply = 0
        self._fail_on = set(fail_on)
        self._error = error
        self._fail_next: ProviderError | None = None
        self.requests: list[ChatRequest] = []

    @property
    def calls(self) -> int:
        """How many times :meth:`complete` was called (including failed calls)."""
        return len(self.requests)

    def fail_next(self, error: ProviderError | None = None) -> None:
        """Make the next call raise ``error`` (default: a retryable 503 ProviderError)."""
        self._fail_next = error or self._error or _default_error()

    def complete(self, request: ChatRequest) -> ChatResult:
        """Record ``request``; raise if this call is scripted to fail, else the next reply."""
        self.requests.append(request)
        if self._fail_next is not None:
            error, self._fail_next = self._fail_next, None
            raise error
        if self.calls in self._fail_on:
            raise self._error or _default_error()
        return ChatResult(text=self._reply(request), model=request.model)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """:meth:`complete`'s text word by word (each word with its following whitespace)."""
        text = self.complete(request).text
        yield from re.findall(r"\s*\S+\s*", text) if text.strip() else ([text] if text else [])

    def _reply(self, request: ChatRequest) -> str:
        if self._replies is None:
            return "fake reply"
        if callable(self._replies):
            return self._replies(request)
        if not self._replies:
            raise ValueError("FakeChatModel was given an empty list of replies")
        index = min(self._next_reply, len(self._replies) - 1)
        self._next_reply += 1
        return self._replies[index]


class RecordingChatModel:
    """Wraps another chat model, recording every request in ``requests`` before delegating.

    ``name`` is the inner model's name; errors from the inner model propagate unchanged.
    """

    def __init__(self, inner: ChatModel):
        self.inner = inner
        self.name = inner.name
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> ChatResult:
        """Record ``request``, then return the inner model's answer."""
        self.requests.append(request)
        return self.inner.complete(request)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Record ``request``, then stream the inner model's answer (it must support streams)."""
        self.requests.append(request)
        yield from self.inner.stream(request)  # type: ignore[attr-defined]

    def tasks(self) -> list[str]:
        """The task of every recorded request, in call order."""
        return [request.task for request in self.requests]


class FakeEmbedder:
    """An :class:`~eros.llm.base.Embedder` with chosen vectors for chosen texts.

    A text listed in ``seeds`` embeds to ``unit_vector(seeds[text], dim)``, so tests can make
    two texts identical (same seed) or orthogonal (different seeds); any other text embeds as
    :class:`~eros.llm.embeddings_local.LocalEmbedder` would. Every call is recorded in
    ``calls`` as ``("documents", texts)`` or ``("query", (text,))``. :meth:`fail_next` makes
    the next call raise a :class:`~eros.llm.base.ProviderError`.
    """

    name = "fake"

    def __init__(self, seeds: Mapping[str, int] | None = None, *, dim: int = DEFAULT_DIM):
        self.dim = dim
        self.seeds = dict(seeds or {})
        self._local = LocalEmbedder(dim=dim)
        self._fail_next: ProviderError | None = None
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def fail_next(self, error: ProviderError | None = None) -> None:
        """Make the next call raise ``error`` (default: a retryable 503 ProviderError)."""
        self._fail_next = error or _default_error()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        self._record("documents", tuple(texts))
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        """The same vector a document with this text gets."""
        self._record("query", (text,))
        return self._vector(text)

    @property
    def embedded_texts(self) -> list[str]:
        """Every text embedded so far, documents and queries, in call order."""
        return [text for _, texts in self.calls for text in texts]

    def _record(self, kind: str, texts: tuple[str, ...]) -> None:
        self.calls.append((kind, texts))
        if self._fail_next is not None:
            error, self._fail_next = self._fail_next, None
            raise error

    def _vector(self, text: str) -> list[float]:
        if text in self.seeds:
            return unit_vector(self.seeds[text], self.dim)
        return self._local.embed(text)


@dataclass
class StreamRecord:
    """What happened to one :meth:`StreamingFakeChatModel.stream` call.

    ``yielded`` counts the chunks handed out; ``finished`` is True when every chunk was
    yielded, ``failed`` when the scripted error was raised, and ``closed`` when the consumer
    closed the stream early (the upstream call was cancelled).
    """

    yielded: int = 0
    finished: bool = False
    failed: bool = False
    closed: bool = False


class StreamingFakeChatModel(FakeChatModel):
    """A :class:`FakeChatModel` that also streams, as a provider with ``stream()`` does.

    ``stream(request)`` records the request like :meth:`complete` and yields the scripted
    reply as word chunks (``eros.llm.chunks.word_chunks``), or the given ``chunks`` verbatim.
    ``delay_s`` is slept before each chunk; ``fail_after`` raises ``error`` (default: a
    retryable 503 :class:`~eros.llm.base.ProviderError`) once that many chunks were yielded
    (0 = before the first). Each call appends a :class:`StreamRecord` to ``streams``.
    ``complete`` answers the joined chunks when ``chunks`` is given.
    """

    def __init__(
        self,
        replies: Sequence[str] | Callable[[ChatRequest], str] | None = None,
        *,
        chunks: Sequence[str] | None = None,
        delay_s: float = 0.0,
        fail_after: int | None = None,
        error: ProviderError | None = None,
        **kwargs,
    ):
        if chunks is not None and replies is None:
            replies = ["".join(chunks)]
        super().__init__(replies, error=error, **kwargs)
        self._chunks = list(chunks) if chunks is not None else None
        self._delay_s = delay_s
        self._fail_after = fail_after
        self.streams: list[StreamRecord] = []

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Record ``request`` and return an iterator of reply chunks (see the class doc)."""
        self.requests.append(request)
        if self._fail_next is not None:
            error, self._fail_next = self._fail_next, None
            raise error
        if self.calls in self._fail_on:
            raise self._error or _default_error()
        chunks = self._chunks if self._chunks is not None else word_chunks(self._reply(request))
        record = StreamRecord()
        self.streams.append(record)
        return self._emit(chunks, record)

    def _emit(self, chunks: list[str], record: StreamRecord) -> Iterator[str]:
        try:
            for index, chunk in enumerate(chunks):
                if self._fail_after is not None and index == self._fail_after:
                    record.failed = True
                    raise self._error or _default_error()
                if self._delay_s:
                    time.sleep(self._delay_s)
                record.yielded += 1
                yield chunk
            if self._fail_after is not None and self._fail_after >= len(chunks):
                record.failed = True
                raise self._error or _default_error()
            record.finished = True
        except GeneratorExit:
            record.closed = True
            raise
