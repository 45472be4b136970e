"""Embeddings of any size, and queries told apart from documents on OpenAI-compatible servers:
``EMBEDDING_DIM``, ``EMBEDDINGS_QUERY_PREFIX`` / ``EMBEDDINGS_DOCUMENT_PREFIX`` and
``EMBEDDINGS_INPUT_TYPE``, from the settings to the wire (httpx.MockTransport)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from eros.llm import providers
from eros.llm.embeddings import OpenAIEmbedder, embedding_prefix, parse_input_types
from eros.llm.embeddings_local import LocalEmbedder
from eros.llm.httpclient import RetryPolicy
from tests.llm.wire import Sleeps, Wire

ROOT = Path(__file__).resolve().parents[2]


def echo(dim: int):
    """An embeddings server answering one ``dim``-sized vector per input."""

    def handle(request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["input"]
        data = [{"index": i, "embedding": [1.0] + [0.0] * (dim - 1)} for i in range(len(texts))]
        return httpx.Response(200, json={"data": data})

    return handle


def openai(wire: Wire, **kwargs) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        base_url="http://127.0.0.1:8000/v1",
        retry=RetryPolicy(sleep=Sleeps()),
        transport=wire.transport,
        **kwargs,
    )


def test_prefixes_mark_queries_and_documents():
    wire = Wire(echo(768))
    model = openai(
        wire,
        model="nomic-embed-text",
        dim=768,
        send_dimensions=False,
        query_prefix="search_query: ",
        document_prefix="search_document: ",
    )

    assert len(model.embed_query("my pup")) == 768
    assert len(model.embed_documents(["She has a dog", "She lives in Porto"])[1]) == 768

    assert wire.bodies == [
        {
            "input": ["search_query: my pup"],
            "model": "nomic-embed-text",
            "encoding_format": "float",
        },
        {
            "input": ["search_document: She has a dog", "search_document: She lives in Porto"],
            "model": "nomic-embed-text",
            "encoding_format": "float",
        },
    ]


def test_input_type_is_sent_with_the_servers_own_words():
    wire = Wire(echo(384))
    model = openai(wire, model="e5", dim=384, input_types=("query", "passage"))

    model.embed_query("my pup")
    model.embed_documents(["She has a dog"])

    assert [(b["input_type"], b["input"], b["dimensions"]) for b in wire.bodies] == [
        ("query", ["my pup"], 384),
        ("passage", ["She has a dog"], 384),
    ]


def test_by_default_texts_go_unchanged_without_input_type():
    wire = Wire(echo(512))
    openai(wire).embed_query("my pup")

    assert wire.bodies == [
        {
            "input": ["my pup"],
            "model": "text-embedding-3-small",
            "encoding_format": "float",
            "dimensions": 512,
        }
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("false", None),
        ("off", None),
        ("true", ("query", "document")),
        ("ON", ("query", "document")),
        ("query,passage", ("query", "passage")),
        (" search_query , search_document ", ("search_query", "search_document")),
    ],
)
def test_input_type_values(value, expected):
    assert parse_input_types(value) == expected


@pytest.mark.parametrize("value", ["query", "a,b,c", ",passage", "maybe"])
def test_bad_input_type_values_are_refused(value):
    with pytest.raises(ValueError, match="expected true, false or"):
        parse_input_types(value)


def test_a_prefix_ending_in_a_colon_gets_its_space():
    assert embedding_prefix("query:") == "query: "
    assert embedding_prefix("query: ") == "query: "
    assert embedding_prefix("") == ""
    assert embedding_prefix("Represent this sentence for searching relevant passages:") == (
        "Represent this sentence for searching relevant passages: "
    )


@pytest.fixture
def openai_embeddings(settings):
    settings.EROS_EMBEDDER = None
    settings.EMBEDDINGS_PROVIDER = "auto"
    settings.VOYAGE_API_KEY = ""
    settings.EMBEDDINGS_BASE_URL = "http://127.0.0.1:8000/v1"
    settings.EMBEDDINGS_MODEL = "multilingual-e5-small"
    return settings


def test_the_settings_build_the_embedder(openai_embeddings):
    openai_embeddings.EMBEDDING_DIM = 384
    openai_embeddings.EMBEDDINGS_QUERY_PREFIX = "query:"  # the shell lost the space
    openai_embeddings.EMBEDDINGS_DOCUMENT_PREFIX = "passage:"
    openai_embeddings.EMBEDDINGS_INPUT_TYPE = "query,passage"

    embedder = providers.get_embedder()

    assert isinstance(embedder, OpenAIEmbedder)
    assert (embedder.dim, embedder.query_prefix, embedder.document_prefix) == (
        384,
        "query: ",
        "passage: ",
    )
    assert embedder.input_types == ("query", "passage")
    # memory_reembed asks for the size the column is about to get.
    assert providers.get_embedder(dim=1024).dim == 1024


def test_the_local_embedder_follows_embedding_dim(settings):
    settings.EROS_EMBEDDER = None
    settings.EMBEDDINGS_PROVIDER = "local"
    settings.EMBEDDING_DIM = 384

    embedder = providers.get_embedder()

    assert isinstance(embedder, LocalEmbedder)
    assert len(embedder.embed_query("my pup")) == 384
    assert len(embedder.embed_documents(["She has a golden retriever"])[0]) == 384


def test_a_bad_input_type_refuses_to_start(openai_embeddings):
    openai_embeddings.EMBEDDINGS_INPUT_TYPE = "sometimes"
    with pytest.raises(ImproperlyConfigured, match="EMBEDDINGS_INPUT_TYPE: expected true, false"):
        providers.providers_check()


def test_embedding_dim_beyond_what_hnsw_indexes_refuses_to_start():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "EMBEDDING_DIM": "3072"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "EMBEDDING_DIM=3072: pgvector's HNSW index takes at most 2000 dimensions" in (
        result.stderr
    )
