"""The chat and embedding clients over a real socket, against a stub server on 127.0.0.1."""

from __future__ import annotations

import time

import pytest

from eros.llm.base import ChatMessage, ChatRequest, ProviderError
from eros.llm.chat import OpenAIChatModel
from eros.llm.embeddings import OpenAIEmbedder
from eros.llm.embeddings_local import LocalEmbedder
from eros.llm.httpclient import RetryPolicy
from tests.openai_stub import OpenAIStub

REQUEST = ChatRequest(
    task="chat_companion",
    model="stub-chat",
    messages=(ChatMessage("user", "hi"),),
    temperature=0.7,
    max_tokens=50,
)


def test_completion_and_stream_over_http():
    with OpenAIStub(answer=lambda body: '"Hello there, you night owl."') as stub:
        model = OpenAIChatModel(base_url=stub.url, api_key="k")
        assert model.complete(REQUEST).text == "Hello there, you night owl."
        chunks = list(model.stream(REQUEST))
    assert len(chunks) > 1
    assert "".join(chunks) == "Hello there, you night owl."
    (_, headers, body), (_, _, streamed) = stub.requests
    assert headers["Authorization"] == "Bearer k"
    assert body["model"] == "stub-chat" and "stream" not in body
    assert streamed["stream"] is True


def test_a_slow_server_hits_the_read_timeout_and_is_retried():
    with OpenAIStub(delay_s=1.5) as stub:
        model = OpenAIChatModel(
            base_url=stub.url, timeout_s=0.2, retry=RetryPolicy(max_retries=1, backoff_s=0.01)
        )
        started = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            model.complete(REQUEST)
        elapsed = time.monotonic() - started
    assert caught.value.retryable and "timed out" in str(caught.value)
    assert len(stub.requests) == 2
    assert elapsed < 1.5  # gave up on each try long before the server answered


def test_a_closed_port_is_a_retryable_connection_error():
    with OpenAIStub() as stub:
        url = stub.url
    model = OpenAIChatModel(base_url=url, retry=RetryPolicy(max_retries=0))
    with pytest.raises(ProviderError) as caught:
        model.complete(REQUEST)
    assert caught.value.retryable and "ConnectError" in str(caught.value)


def test_embeddings_over_http():
    local = LocalEmbedder()
    with OpenAIStub(embed=local.embed) as stub:
        embedder = OpenAIEmbedder(base_url=stub.url, model="stub-embed")
        vectors = embedder.embed_documents(["I live in Porto", "I surf"])
    assert vectors == [local.embed("I live in Porto"), local.embed("I surf")]
    assert stub.bodies("/v1/embeddings")[0]["dimensions"] == 512
