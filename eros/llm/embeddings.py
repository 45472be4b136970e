"""Embedding providers: Voyage, any OpenAI-compatible ``/embeddings`` server, and ``local``.

Both HTTP providers send ``POST {base_url}/embeddings`` with up to 128 texts per request and
check every answer strictly (DESIGN §6): one vector per text, in input order (``index`` is
honoured when present), each of exactly ``dim`` finite numbers, because the
``companion_memories.embedding`` column is ``vector(EMBEDDING_DIM)`` and a vector of another
size would fail on insert, or worse, be compared with vectors of another model.

Queries and documents are told apart: Voyage by its ``input_type`` field; OpenAI-compatible
servers by text prefixes (e5, nomic, bge and friends were trained with them) and/or an
``input_type`` field, for the servers that take one.

Outcomes: 429/408/425/5xx, timeouts, connection errors and non-JSON bodies are retried twice
with backoff (``Retry-After`` honoured) and then raise a retryable
:class:`~eros.llm.base.ProviderError`; any other status, a missing or short ``data`` list and a
vector of the wrong dimension raise a permanent one. There is no fallback model.

Each call of ``embed_documents`` (all its batches) or ``embed_query`` ends within
``deadline_s`` seconds (``LLM_DEADLINE_S``), retries and backoff included, however slowly the
server sends its answer; running out raises :class:`~eros.llm.deadline.DeadlineExceeded`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from eros.llm.base import ProviderError
from eros.llm.deadline import DEFAULT_DEADLINE_S, Deadline
from eros.llm.embeddings_local import DEFAULT_DIM, LocalEmbedder
from eros.llm.httpclient import RetryPolicy, make_client, post_json

__all__ = [
    "LocalEmbedder",
    "OpenAIEmbedder",
    "VoyageEmbedder",
    "MAX_BATCH",
    "embedding_prefix",
    "parse_input_types",
]

#: Texts per request (Voyage accepts up to 128 per call for voyage-3-lite-sized inputs).
MAX_BATCH = 128

VOYAGE_BASE_URL = "https://api.voyageai.com/v1"
VOYAGE_MODEL = "voyage-3-lite"
OPENAI_EMBEDDINGS_BASE_URL = "https://api.openai.com/v1"
OPENAI_EMBEDDINGS_MODEL = "text-embedding-3-small"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def parse_input_types(value: str) -> tuple[str, str] | None:
    """The ``(query, document)`` words of an ``EMBEDDINGS_INPUT_TYPE`` value, or ``None``.

    ``""``/``false``/``off``/``0``/``no`` → ``None`` (no field sent); ``true``/``on``/``1``/
    ``yes`` → ``("query", "document")``; ``"<query word>,<document word>"`` → those two words
    (e.g. ``"query,passage"``, ``"search_query,search_document"``). Raises ``ValueError`` for
    anything else.
    """
    text = value.strip()
    if text.lower() in _FALSE:
        return None
    if text.lower() in _TRUE:
        return ("query", "document")
    words = [w.strip() for w in text.split(",")]
    if len(words) != 2 or not all(words):
        raise ValueError(
            f"expected true, false or '<query word>,<document word>' (e.g. query,passage), "
            f"got {value!r}"
        )
    return (words[0], words[1])


def embedding_prefix(value: str) -> str:
    """An ``EMBEDDINGS_*_PREFIX`` value as sent: one ending in ``:`` gets a space after it.

    Environment files and shells lose trailing spaces easily, and every known prefix
    (``query: ``, ``passage: ``, ``search_query: ``, ``Represent this sentence …: ``) ends in
    colon-space; a missing space changes the model's input and quietly lowers recall.
    """
    return value + " " if value.endswith(":") else value


class _HttpEmbedder:
    """Batching, retries and strict parsing shared by the HTTP embedders."""

    name = "http"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        model: str,
        dim: int = DEFAULT_DIM,
        timeout_s: float = 30.0,
        deadline_s: float = DEFAULT_DEADLINE_S,
        batch_size: int = MAX_BATCH,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be within 1..{MAX_BATCH}, got {batch_size}")
        headers = {"Accept": "application/json", "User-Agent": "eros"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self.model = model
        self.dim = dim
        self.batch_size = batch_size
        self.deadline_s = deadline_s
        self.retry = retry or RetryPolicy()
        self._client = make_client(
            base_url=base_url, headers=headers, read_timeout_s=timeout_s, transport=transport
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector of ``dim`` floats per text, in order; ``[]`` for no texts (no request)."""
        vectors: list[list[float]] = []
        deadline = Deadline.within(self.deadline_s)
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            vectors.extend(self._embed(batch, "document", deadline))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of a search query (Voyage: ``input_type=query``)."""
        return self._embed([text], "query", Deadline.within(self.deadline_s))[0]

    def _body(self, texts: list[str], input_type: str) -> dict[str, Any]:
        raise NotImplementedError

    def _embed(self, texts: list[str], input_type: str, deadline: Deadline) -> list[list[float]]:
        if any(not isinstance(t, str) or not t.strip() for t in texts):
            raise ProviderError(f"{self.name}: cannot embed a blank text", retryable=False)
        body = self._body(texts, input_type)

        def attempt() -> list[list[float]]:
            data = post_json(self._client, self.name, "embeddings", body, deadline=deadline)
            return self._parse(data, len(texts))

        return self.retry.call(
            attempt, what=f"{self.name} embeddings ({len(texts)} texts)", deadline=deadline
        )

    def _parse(self, data: Any, count: int) -> list[list[float]]:
        where = f"{self.name}: {self.model}"
        items = data.get("data") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise ProviderError(f"{where}: answer has no data list", retryable=False)
        if len(items) != count:
            raise ProviderError(
                f"{where}: {len(items)} embeddings for {count} texts", retryable=False
            )
        indexes = [item.get("index") if isinstance(item, Mapping) else None for item in items]
        if sorted(i for i in indexes if isinstance(i, int)) == list(range(count)):
            items = sorted(items, key=lambda item: item["index"])
        vectors = []
        for item in items:
            vector = item.get("embedding") if isinstance(item, Mapping) else None
            if not isinstance(vector, list) or not all(_is_number(v) for v in vector):
                raise ProviderError(f"{where}: embedding is not a list of numbers", retryable=False)
            if len(vector) != self.dim:
                raise ProviderError(
                    f"{where}: embedding has {len(vector)} dimensions, EMBEDDING_DIM is {self.dim}",
                    retryable=False,
                )
            vectors.append([float(v) for v in vector])
        return vectors


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class VoyageEmbedder(_HttpEmbedder):
    """Voyage AI embeddings (default ``voyage-3-lite``, 512 dimensions).

    Request: ``{"input": [texts], "model", "input_type": "document"|"query"}``; nothing else
    is sent (reference eros-engine-core.md §2.3), but texts are batched, up to 128 per call.
    """

    name = "voyage"

    def __init__(self, *, api_key: str, model: str = VOYAGE_MODEL, base_url: str = "", **kwargs):
        if not api_key:
            raise ProviderError("voyage: api key not set", retryable=False)
        super().__init__(
            base_url=base_url or VOYAGE_BASE_URL, api_key=api_key, model=model, **kwargs
        )

    def _body(self, texts: list[str], input_type: str) -> dict[str, Any]:
        return {"input": texts, "model": self.model, "input_type": input_type}


class OpenAIEmbedder(_HttpEmbedder):
    """An OpenAI-compatible ``/embeddings`` endpoint (OpenAI, Ollama, vLLM, TEI, infinity…).

    Request: ``{"input": [texts], "model", "encoding_format": "float"}`` plus
    ``"dimensions": dim`` when ``send_dimensions`` (OpenAI's ``text-embedding-3-*`` models
    shorten their vectors to it; some local servers reject the key, so it can be turned off).

    Queries and documents: each query text is sent as ``query_prefix + text`` and each
    document as ``document_prefix + text`` (both ``""`` by default: sent unchanged); with
    ``input_types = (query_word, document_word)`` the body also carries
    ``"input_type": query_word`` or ``document_word`` (``None``: no such field).
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str = "",
        api_key: str = "",
        model: str = OPENAI_EMBEDDINGS_MODEL,
        send_dimensions: bool = True,
        query_prefix: str = "",
        document_prefix: str = "",
        input_types: tuple[str, str] | None = None,
        **kwargs,
    ):
        self.send_dimensions = send_dimensions
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.input_types = input_types
        super().__init__(
            base_url=base_url or OPENAI_EMBEDDINGS_BASE_URL, api_key=api_key, model=model, **kwargs
        )

    def _body(self, texts: list[str], input_type: str) -> dict[str, Any]:
        prefix = self.query_prefix if input_type == "query" else self.document_prefix
        body: dict[str, Any] = {
            "input": [prefix + text for text in texts] if prefix else texts,
            "model": self.model,
            "encoding_format": "float",
        }
        if self.send_dimensions:
            body["dimensions"] = self.dim
        if self.input_types is not None:
            query_word, document_word = self.input_types
            body["input_type"] = query_word if input_type == "query" else document_word
        return body
