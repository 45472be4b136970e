"""Small interfaces between the engine and its model providers.

The apps talk to models only through :class:`ChatModel` and :class:`Embedder`, so tests swap in
fakes (``eros.llm.fakes``) and operators swap providers by environment variable. Nothing here
knows about Django models.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

#: Model-config task names (reference eros-engine-core.md §2.4; DESIGN §6).
TASK_CHAT = "chat_companion"
TASK_AFFINITY = "affinity_evaluation"
TASK_INSIGHT = "insight_extraction"
TASK_MEMORY = "memory_extraction"


@dataclass(frozen=True)
class ChatMessage:
    """One OpenAI-style message: ``role`` is ``system``, ``user`` or ``assistant``."""

    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """Everything a provider needs for one completion.

    ``messages`` is what an HTTP provider sends. ``payload`` carries the same task inputs as
    structured data for the offline provider, which composes its answer from facts rather than
    from prompt prose; HTTP providers ignore it. Payload keys per task are documented in
    ``eros.llm.offline``.
    """

    task: str
    model: str
    messages: tuple[ChatMessage, ...]
    temperature: float = 0.5
    max_tokens: int = 200
    fallback_model: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChatResult:
    """A completion: the cleaned ``text`` and the ``model`` that produced it."""

    text: str
    model: str


class ProviderError(Exception):
    """A model provider failed.

    ``retryable`` says whether the same call may succeed later (429, 5xx, transport errors,
    a truncated body) or can never succeed as sent (bad key, unknown model, empty choices,
    wrong embedding dimension). ``status`` is the HTTP status when there was a response;
    ``retry_after`` is the provider's ``Retry-After`` in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


@runtime_checkable
class ChatModel(Protocol):
    """A chat-completions provider."""

    #: Short provider name for ``/healthz`` and logs, e.g. ``"offline"`` or ``"openrouter"``.
    name: str

    def complete(self, request: ChatRequest) -> ChatResult:
        """Return the completion for ``request``; raise :class:`ProviderError` on failure."""
        ...


@runtime_checkable
class StreamingChatModel(ChatModel, Protocol):
    """A chat model that can also hand out its reply piece by piece (for streamed replies)."""

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Yield the reply in order as non-empty text chunks.

        ``"".join(chunks)`` is the cleaned reply that :meth:`complete` would return for the
        same answer (``eros.llm.cleaning.clean_response``). Retries and the fallback model
        apply only before the first chunk; a failure after it raises :class:`ProviderError`
        from the iterator, and the caller decides what to do with the partial text.
        """
        ...


@runtime_checkable
class Embedder(Protocol):
    """A text-embedding provider producing vectors of ``dim`` floats."""

    name: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts to be stored (``input_type=document``); one vector per text, in order."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query (``input_type=query``)."""
        ...
