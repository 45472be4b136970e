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


#: Memory layers (DESIGN §7): facts about the user, and what one persona shares with them.
LAYER_PROFILE = "profile"
LAYER_RELATIONSHIP = "relationship"


@dataclass(frozen=True)
class PersonaCard:
    """The persona as the chat prompt's card shows it (DESIGN §5).

    ``name`` is the genome's name; ``age`` in years, or None when unknown; ``backstory`` and
    ``speech_style`` are free text (``""`` when unset); ``quirks`` and ``topics`` are short
    phrases in the persona file's order.
    """

    name: str
    age: int | None = None
    backstory: str = ""
    speech_style: str = ""
    quirks: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()

    @classmethod
    def from_metadata(cls, name: str, metadata: Mapping[str, Any]) -> PersonaCard:
        """The card of persona ``name`` from its genome's ``art_metadata`` (persona file).

        Keeps what has the right type, as the prompt does: ``age`` when a whole number (not a
        bool), ``backstory`` and ``speech_style`` when non-blank strings, the non-blank string
        items of ``quirks`` and ``topics`` when they are lists. Other keys are not part of the
        card; a wrong type reads as unset, never as an error.
        """

        def text(key: str) -> str:
            value = metadata.get(key)
            return value if isinstance(value, str) and value.strip() else ""

        def phrases(key: str) -> tuple[str, ...]:
            value = metadata.get(key)
            if not isinstance(value, list):
                return ()
            return tuple(v for v in value if isinstance(v, str) and v.strip())

        age = metadata.get("age")
        return cls(
            name=name,
            age=age if isinstance(age, int) and not isinstance(age, bool) else None,
            backstory=text("backstory"),
            speech_style=text("speech_style"),
            quirks=phrases("quirks"),
            topics=phrases("topics"),
        )


@dataclass(frozen=True)
class RecalledMemory:
    """One memory recalled for the turn.

    ``layer`` is :data:`LAYER_PROFILE` or :data:`LAYER_RELATIONSHIP`; ``similarity`` is the
    cosine similarity in [-1, 1] between the user's message and the memory; ``category`` is
    ``fact``, ``preference``, ``event``, ``emotion``, ``relation`` or None (untagged).
    """

    content: str
    layer: str
    similarity: float
    category: str | None = None


@dataclass(frozen=True)
class TurnContext:
    """One ``chat_companion`` turn as data: what the prompt says in prose, for reading.

    ``user_message`` is the message being answered (also the last ``user`` message of the
    request); ``persona`` the card; ``reply_style`` the plan's style (``warm``, ``neutral``,
    ``cold``, ``tsundere``, ``excited``); ``relationship_label`` the current label
    (``stranger``, ``friend``, ``romantic``, ``frenemy``, ``slow_burn``); ``affinity`` the six
    axes after decay (warmth in [-1, 1], the others in [0, 1]); ``recalled`` every memory
    recalled for the turn, in recall order (profile layer by category, then relationship
    layer), each with its layer and similarity; ``message_count`` the user's messages in the
    session so far, this one included (≥ 1 in a real turn); ``variation`` 0 for a first
    reply, and the number of a regenerated one (≥ 1), which asks for another wording.

    The recalled memories are all here, relevant or not: choosing what to bring up is the
    reader's business, as it is for a model reading the prompt.
    """

    user_message: str
    persona: PersonaCard = PersonaCard(name="")
    reply_style: str = "neutral"
    relationship_label: str = "stranger"
    affinity: Mapping[str, float] = field(default_factory=dict)
    recalled: tuple[RecalledMemory, ...] = ()
    message_count: int = 0
    variation: int = 0
    user_name: str | None = None


@dataclass(frozen=True)
class ChatRequest:
    """Everything a provider needs for one completion.

    ``messages`` is what an HTTP provider sends, and holds every input of every task.
    ``context`` describes a ``chat_companion`` turn as typed data (:class:`TurnContext`) for a
    model that composes from facts rather than prose, such as the ``offline`` provider; HTTP
    providers ignore it. It is None for the other tasks, whose prompts carry their inputs in
    a form a program can read back (see ``eros.llm.offline``).
    """

    task: str
    model: str
    messages: tuple[ChatMessage, ...]
    temperature: float = 0.5
    max_tokens: int = 200
    fallback_model: str | None = None
    context: TurnContext | None = None


@dataclass(frozen=True)
class ChatResult:
    """A completion: the cleaned ``text`` and the ``model`` that produced it.

    ``offline`` is True when no language model answered: the text comes from the offline
    heuristics (:mod:`eros.llm.offline`), so what depends on it (an affinity event's
    ``source``) can say so.
    """

    text: str
    model: str
    offline: bool = False


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
