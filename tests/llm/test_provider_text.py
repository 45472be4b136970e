"""Provider output that PostgreSQL or UTF-8 cannot hold is repaired, not fatal: NUL characters
and lone surrogates become U+FFFD; JSON nested too deeply to decode is a retryable error."""

from __future__ import annotations

import httpx
import pytest

from eros.llm.base import ChatMessage, ChatRequest, ProviderError
from eros.llm.chat import OpenAIChatModel
from eros.llm.httpclient import RetryPolicy
from eros.llm.jsonblock import parse_json_object
from tests.llm.wire import Sleeps, Wire, delta, sse

DEEP = "[" * 100_000 + "]" * 100_000


def _request() -> ChatRequest:
    return ChatRequest(
        task="chat_companion",
        model="m",
        fallback_model=None,
        messages=(ChatMessage("user", "hi"),),
        temperature=0.7,
        max_tokens=100,
    )


def _model(wire: Wire) -> OpenAIChatModel:
    return OpenAIChatModel(
        base_url="https://provider.test/v1",
        api_key="k",
        name="stub",
        retry=RetryPolicy(sleep=Sleeps()),
        transport=wire.transport,
    )


def _raw(body: str) -> httpx.Response:
    return httpx.Response(200, content=body.encode(), headers={"content-type": "application/json"})


def test_a_reply_with_a_lone_surrogate_or_nul_is_repaired():
    body = '{"choices": [{"message": {"role": "assistant", "content": "a\\ud800b\\u0000c"}}]}'
    result = _model(Wire([_raw(body)])).complete(_request())
    assert result.text == "a\ufffdb\ufffdc"
    result.text.encode("utf-8")  # and it can be sent and stored


def test_an_escaped_surrogate_pair_is_kept():
    body = '{"choices": [{"message": {"role": "assistant", "content": "hi \\ud83d\\ude00"}}]}'
    assert _model(Wire([_raw(body)])).complete(_request()).text == "hi \U0001f600"


def test_streamed_text_with_a_lone_surrogate_or_nul_is_repaired():
    wire = Wire([sse(delta("one \ud800"), delta(" two\x00"))])
    chunks = list(_model(wire).stream(_request()))
    assert "".join(chunks) == "one \ufffd two\ufffd"


def test_a_response_nested_too_deeply_to_decode_is_a_retryable_provider_error():
    with pytest.raises(ProviderError) as caught:
        _model(Wire([_raw(DEEP)])).complete(_request())
    assert caught.value.retryable


def test_model_json_is_made_storable_and_too_deep_json_is_no_object():
    assert parse_json_object('{"city": "Lis\\udc00bon", "k\\u0000": ["\\ud800"]}') == {
        "city": "Lis\ufffdbon",
        "k\ufffd": ["\ufffd"],
    }
    assert parse_json_object('{"a": ' + DEEP + "}") is None
    assert parse_json_object('Sure: {"a": ' + DEEP + "} done") is None
