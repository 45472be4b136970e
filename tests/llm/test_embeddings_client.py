"""Voyage and OpenAI-compatible embeddings against their wire formats (httpx.MockTransport)."""

from __future__ import annotations

import json

import httpx
import pytest

from eros.llm.base import Embedder, ProviderError
from eros.llm.embeddings import MAX_BATCH, OpenAIEmbedder, VoyageEmbedder
from eros.llm.fakes import unit_vector
from eros.llm.httpclient import RetryPolicy
from tests.llm.wire import Sleeps, Wire, embeddings, status

DIM = 512


def voyage(wire: Wire, sleeps: Sleeps | None = None, **kwargs) -> VoyageEmbedder:
    return VoyageEmbedder(
        api_key="pa-test",
        retry=RetryPolicy(sleep=sleeps if sleeps is not None else Sleeps()),
        transport=wire.transport,
        **kwargs,
    )


def openai(wire: Wire, **kwargs) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        base_url=kwargs.pop("base_url", "http://127.0.0.1:11434/v1"),
        retry=RetryPolicy(sleep=Sleeps()),
        transport=wire.transport,
        **kwargs,
    )


def echo_vectors(request: httpx.Request) -> httpx.Response:
    """One distinct unit vector per input, keyed on the text's position in the whole test."""
    texts = json.loads(request.content)["input"]
    return embeddings([unit_vector(int(t.split()[-1])) for t in texts])


# --- Voyage ------------------------------------------------------------------------------------


def test_voyage_sends_documents_with_input_type_and_returns_vectors_in_order():
    wire = Wire([embeddings([unit_vector(1), unit_vector(2)], shuffle=True)])
    model = voyage(wire)

    vectors = model.embed_documents(["I live in Lisbon", "I love hiking"])

    assert isinstance(model, Embedder) and model.name == "voyage" and model.dim == DIM
    assert vectors == [unit_vector(1), unit_vector(2)]  # sorted back by "index"
    (sent,) = wire.requests
    assert str(sent.url) == "https://api.voyageai.com/v1/embeddings"
    assert sent.headers["authorization"] == "Bearer pa-test"
    assert json.loads(sent.content) == {
        "input": ["I live in Lisbon", "I love hiking"],
        "model": "voyage-3-lite",
        "input_type": "document",
    }


def test_voyage_queries_use_input_type_query():
    wire = Wire([embeddings([unit_vector(7)])])
    assert voyage(wire).embed_query("where do I live?") == unit_vector(7)
    assert wire.bodies[0]["input_type"] == "query"
    assert wire.bodies[0]["input"] == ["where do I live?"]


def test_documents_are_sent_in_batches_of_at_most_128():
    wire = Wire(echo_vectors)
    texts = [f"text {i}" for i in range(300)]

    vectors = voyage(wire).embed_documents(texts)

    assert [len(b["input"]) for b in wire.bodies] == [MAX_BATCH, MAX_BATCH, 300 - 2 * MAX_BATCH]
    assert vectors == [unit_vector(i) for i in range(300)]


def test_no_texts_make_no_request():
    wire = Wire([status(500)])
    assert voyage(wire).embed_documents([]) == []
    assert wire.requests == []


def test_a_blank_text_is_refused_before_any_request():
    wire = Wire([embeddings([unit_vector(1)])])
    with pytest.raises(ProviderError) as caught:
        voyage(wire).embed_documents(["fine", "   "])
    assert not caught.value.retryable and wire.requests == []


def test_voyage_without_a_key_cannot_be_built():
    with pytest.raises(ProviderError, match="api key not set"):
        VoyageEmbedder(api_key="")


def test_429_waits_the_retry_after_seconds_then_succeeds():
    sleeps = Sleeps()
    wire = Wire([status(429, **{"Retry-After": "3"}), embeddings([unit_vector(4)])])
    assert voyage(wire, sleeps).embed_query("hi") == unit_vector(4)
    assert sleeps == [3.0] and len(wire.requests) == 2


def test_500_then_success_is_retried_with_backoff():
    sleeps = Sleeps()
    wire = Wire([status(500), status(503), embeddings([unit_vector(5)])])
    assert voyage(wire, sleeps).embed_documents(["hi"]) == [unit_vector(5)]
    assert len(sleeps) == 2 and len(wire.requests) == 3


def test_500_on_every_try_is_a_retryable_error_after_two_retries():
    wire = Wire([status(500)])
    with pytest.raises(ProviderError) as caught:
        voyage(wire).embed_documents(["hi"])
    assert caught.value.retryable and caught.value.status == 500
    assert len(wire.requests) == 3


def test_timeouts_end_in_a_retryable_error_after_two_retries():
    wire = Wire([httpx.ReadTimeout("slow")])
    with pytest.raises(ProviderError) as caught:
        voyage(wire).embed_query("hi")
    assert caught.value.retryable and "timed out" in str(caught.value)
    assert len(wire.requests) == 3


def test_malformed_json_is_retried_then_a_retryable_error():
    wire = Wire([httpx.Response(200, text='{"data": [')])
    with pytest.raises(ProviderError) as caught:
        voyage(wire).embed_query("hi")
    assert caught.value.retryable and len(wire.requests) == 3


def test_wrong_embedding_dimension_is_a_permanent_error_naming_both_sizes():
    wire = Wire([embeddings([[0.1] * 1024])])
    with pytest.raises(ProviderError) as caught:
        voyage(wire).embed_query("hi")
    assert not caught.value.retryable
    assert "1024 dimensions" in str(caught.value) and "EMBEDDING_DIM is 512" in str(caught.value)
    assert len(wire.requests) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"data": []}, "0 embeddings for 1 texts"),
        ({"object": "list"}, "no data list"),
        ([1], "no data list"),
        ({"data": [{"embedding": "abc"}]}, "not a list of numbers"),
        ({"data": [{"embedding": [True] * DIM}]}, "not a list of numbers"),
        ({"data": [{"embedding": [float("nan")] + [0.0] * (DIM - 1)}]}, "not a list of numbers"),
    ],
)
def test_answers_of_the_wrong_shape_are_permanent_errors(body, reason):
    wire = Wire([httpx.Response(200, content=json.dumps(body).encode())])
    with pytest.raises(ProviderError) as caught:
        voyage(wire).embed_query("hi")
    assert not caught.value.retryable and reason in str(caught.value)


def test_401_is_not_retried():
    wire = Wire([status(401, "bad key")])
    with pytest.raises(ProviderError) as caught:
        voyage(wire).embed_query("hi")
    assert caught.value.status == 401 and not caught.value.retryable
    assert len(wire.requests) == 1


# --- OpenAI-compatible ---------------------------------------------------------------------------


def test_openai_compatible_sends_model_dimensions_and_float_encoding():
    wire = Wire([embeddings([unit_vector(1), unit_vector(2)])])
    model = openai(wire, api_key="sk-x", model="nomic-embed-text")

    assert model.embed_documents(["a b", "c d"]) == [unit_vector(1), unit_vector(2)]

    (sent,) = wire.requests
    assert str(sent.url) == "http://127.0.0.1:11434/v1/embeddings"
    assert sent.headers["authorization"] == "Bearer sk-x"
    assert json.loads(sent.content) == {
        "input": ["a b", "c d"],
        "model": "nomic-embed-text",
        "encoding_format": "float",
        "dimensions": DIM,
    }


def test_openai_compatible_can_leave_out_dimensions_and_the_key():
    wire = Wire([embeddings([unit_vector(3)])])
    model = openai(wire, send_dimensions=False)
    assert model.embed_query("q") == unit_vector(3)
    assert "dimensions" not in wire.bodies[0]
    assert "authorization" not in wire.requests[0].headers
    assert wire.bodies[0]["model"] == "text-embedding-3-small"


def test_openai_compatible_defaults_to_api_openai_com():
    wire = Wire([embeddings([unit_vector(3)])])
    OpenAIEmbedder(api_key="sk", transport=wire.transport).embed_query("q")
    assert str(wire.requests[0].url) == "https://api.openai.com/v1/embeddings"


def test_openai_compatible_wrong_dimension_and_429_behave_like_voyage():
    sleeps = Sleeps()
    wire = Wire([status(429, **{"Retry-After": "1"}), embeddings([[0.5] * 768])])
    model = OpenAIEmbedder(
        base_url="http://127.0.0.1:1/v1", retry=RetryPolicy(sleep=sleeps), transport=wire.transport
    )
    with pytest.raises(ProviderError) as caught:
        model.embed_query("q")
    assert sleeps == [1.0]
    assert not caught.value.retryable and "768 dimensions" in str(caught.value)
