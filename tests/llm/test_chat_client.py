"""The OpenAI-compatible chat client against the wire format, through httpx.MockTransport.

Each provider answer ends in the outcome the module docstring of ``eros.llm.chat`` documents:
success, retry (with the wait the provider asked for), fallback, or a ProviderError that
says whether a retry could help.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from eros.llm.base import ChatMessage, ChatRequest, ProviderError, StreamingChatModel
from eros.llm.chat import OPENROUTER_BASE_URL, OpenAIChatModel
from eros.llm.cleaning import clean_response
from eros.llm.httpclient import RetryPolicy, parse_retry_after
from tests.llm.wire import Sleeps, Wire, completion, delta, sse, status

PRIMARY = "x-ai/grok-4-fast"
FALLBACK = "deepseek/deepseek-chat-v3.2"


def request(**overrides) -> ChatRequest:
    fields = {
        "task": "chat_companion",
        "model": PRIMARY,
        "fallback_model": FALLBACK,
        "messages": (ChatMessage("system", "You are Juno."), ChatMessage("user", "hi")),
        "temperature": 0.85,
        "max_tokens": 600,
    }
    fields.update(overrides)
    return ChatRequest(**fields)


def client(wire: Wire, sleeps: Sleeps | None = None, **kwargs) -> OpenAIChatModel:
    return OpenAIChatModel(
        base_url=kwargs.pop("base_url", OPENROUTER_BASE_URL),
        api_key=kwargs.pop("api_key", "sk-test"),
        name=kwargs.pop("name", "openrouter"),
        retry=RetryPolicy(sleep=sleeps if sleeps is not None else Sleeps()),
        transport=wire.transport,
        **kwargs,
    )


# --- success ----------------------------------------------------------------------------------


def test_success_sends_the_openai_body_and_returns_the_cleaned_reply():
    wire = Wire([completion('  "Hey, you."  ')])
    model = client(wire, headers={"HTTP-Referer": "https://example.org", "X-Title": "eros"})

    result = model.complete(request())

    assert result.text == "Hey, you." and result.model == PRIMARY
    (sent,) = wire.requests
    assert sent.method == "POST"
    assert str(sent.url) == "https://openrouter.ai/api/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.headers["http-referer"] == "https://example.org"
    assert sent.headers["x-title"] == "eros"
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.content) == {
        "model": PRIMARY,
        "messages": [
            {"role": "system", "content": "You are Juno."},
            {"role": "user", "content": "hi"},
        ],
        "temperature": 0.85,
        "max_tokens": 600,
    }


def test_a_local_server_without_a_key_gets_no_authorization_header():
    wire = Wire([completion("hi")])
    model = client(wire, base_url="http://127.0.0.1:11434/v1/", api_key="", name="openai")
    model.complete(request())
    assert str(wire.requests[0].url) == "http://127.0.0.1:11434/v1/chat/completions"
    assert "authorization" not in wire.requests[0].headers


def test_content_given_as_text_parts_is_joined():
    wire = Wire([completion([{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}])])
    assert client(wire).complete(request()).text == "Hi there"


def test_the_model_is_the_one_that_answered():
    wire = Wire([status(503), status(503), status(503), completion("from the fallback")])
    result = client(wire).complete(request())
    assert result.model == FALLBACK


# --- 429 and Retry-After -------------------------------------------------------------------


def test_429_waits_the_retry_after_seconds_then_succeeds():
    sleeps = Sleeps()
    wire = Wire([status(429, **{"Retry-After": "2"}), completion("ok")])

    assert client(wire, sleeps).complete(request()).text == "ok"

    assert sleeps == [2.0]
    assert wire.models == [PRIMARY, PRIMARY]


def test_429_with_an_http_date_waits_until_that_time():
    when = datetime.now(UTC) + timedelta(seconds=3)
    sleeps = Sleeps()
    wire = Wire(
        [status(429, **{"Retry-After": format_datetime(when, usegmt=True)}), completion("ok")]
    )

    client(wire, sleeps).complete(request())

    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 3.0


def test_429_asking_for_a_long_pause_goes_to_the_fallback_without_waiting():
    sleeps = Sleeps()
    wire = Wire([status(429, **{"Retry-After": "120"}), completion("fallback")])

    result = client(wire, sleeps).complete(request())

    assert result.text == "fallback" and result.model == FALLBACK
    assert sleeps == [] and wire.models == [PRIMARY, FALLBACK]


def test_429_on_every_try_ends_in_a_retryable_error_with_status():
    wire = Wire([status(429, **{"Retry-After": "1"})])
    with pytest.raises(ProviderError) as caught:
        client(wire).complete(request())
    assert caught.value.retryable and caught.value.status == 429
    assert caught.value.retry_after == 1.0
    assert wire.models == [PRIMARY, PRIMARY, PRIMARY, FALLBACK]


@pytest.mark.parametrize(
    ("header", "expected"),
    [("5", 5.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_parsing(header, expected):
    assert parse_retry_after(header) == expected


# --- 5xx, then the fallback ------------------------------------------------------------------


def test_500_is_retried_twice_with_backoff_then_the_fallback_answers():
    sleeps = Sleeps()
    wire = Wire([status(500), status(502), status(500), completion("saved by the fallback")])

    result = client(wire, sleeps).complete(request())

    assert result.text == "saved by the fallback" and result.model == FALLBACK
    assert wire.models == [PRIMARY, PRIMARY, PRIMARY, FALLBACK]
    # Exponential backoff (0.5 s, then 1 s) with up to 25 % jitter; no wait before the fallback.
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 0.625 and 1.0 <= sleeps[1] <= 1.25


def test_fallback_failure_raises_its_own_error_chained_to_the_primary_one():
    wire = Wire([status(500, "primary down"), status(500), status(500), status(400, "bad model")])
    with pytest.raises(ProviderError) as caught:
        client(wire).complete(request())
    assert caught.value.status == 400 and not caught.value.retryable
    assert isinstance(caught.value.__cause__, ProviderError)
    assert caught.value.__cause__.status == 500


def test_without_a_fallback_the_last_primary_error_is_raised():
    wire = Wire([status(503)])
    with pytest.raises(ProviderError) as caught:
        client(wire).complete(request(fallback_model=None))
    assert caught.value.retryable and caught.value.status == 503
    assert wire.models == [PRIMARY] * 3


def test_a_fallback_equal_to_the_model_is_not_called_again():
    wire = Wire([status(503)])
    with pytest.raises(ProviderError):
        client(wire).complete(request(fallback_model=PRIMARY))
    assert wire.models == [PRIMARY] * 3


@pytest.mark.parametrize("code", [400, 401, 402, 403, 404, 422])
def test_client_errors_are_not_retried_but_the_fallback_is_tried(code):
    sleeps = Sleeps()
    wire = Wire([status(code, "nope"), completion("fallback")])
    assert client(wire, sleeps).complete(request()).model == FALLBACK
    assert wire.models == [PRIMARY, FALLBACK] and sleeps == []


def test_the_error_message_names_the_provider_status_and_body():
    wire = Wire([status(401, '{"error": {"message": "No auth credentials found"}}')])
    with pytest.raises(ProviderError) as caught:
        client(wire).complete(request(fallback_model=None))
    message = str(caught.value)
    assert message.startswith("openrouter: HTTP 401")
    assert "No auth credentials found" in message


# --- timeouts and transport errors -------------------------------------------------------------


def test_timeouts_are_retried_then_the_fallback_answers():
    wire = Wire(
        [
            httpx.ReadTimeout("slow"),
            httpx.ReadTimeout("slow"),
            httpx.ConnectTimeout("no route"),
            completion("late but here"),
        ]
    )
    result = client(wire).complete(request())
    assert result.text == "late but here" and result.model == FALLBACK


def test_timeouts_everywhere_end_in_a_retryable_error():
    wire = Wire([httpx.ReadTimeout("slow")])
    with pytest.raises(ProviderError) as caught:
        client(wire).complete(request())
    assert caught.value.retryable and caught.value.status is None
    assert "timed out" in str(caught.value)
    assert len(wire.requests) == 4


def test_connection_errors_are_retryable():
    wire = Wire([httpx.ConnectError("refused"), completion("ok")])
    assert client(wire).complete(request()).text == "ok"
    assert wire.models == [PRIMARY, PRIMARY]


def test_timeouts_are_five_seconds_to_connect_and_the_setting_to_read():
    model = OpenAIChatModel(base_url="http://127.0.0.1:9/v1", timeout_s=42.0)
    timeout = model._client.timeout
    assert (timeout.connect, timeout.read) == (5.0, 42.0)


# --- malformed answers ---------------------------------------------------------------------------


def test_malformed_json_is_retried_then_the_fallback_answers():
    garbage = httpx.Response(
        200, text='{"choices": [{"message": ', headers={"content-type": "application/json"}
    )
    wire = Wire([garbage, garbage, garbage, completion("fine")])
    result = client(wire).complete(request())
    assert result.model == FALLBACK and wire.models == [PRIMARY, PRIMARY, PRIMARY, FALLBACK]


def test_malformed_json_everywhere_is_a_retryable_error():
    wire = Wire([httpx.Response(200, text="<html>gateway</html>")])
    with pytest.raises(ProviderError) as caught:
        client(wire).complete(request(fallback_model=None))
    assert caught.value.retryable and "not valid JSON" in str(caught.value)


def test_empty_choices_go_straight_to_the_fallback():
    sleeps = Sleeps()
    wire = Wire([httpx.Response(200, json={"choices": []}), completion("fallback")])
    assert client(wire, sleeps).complete(request()).model == FALLBACK
    assert wire.models == [PRIMARY, FALLBACK] and sleeps == []


def test_empty_choices_without_a_fallback_is_a_permanent_error():
    wire = Wire([httpx.Response(200, json={"choices": []})])
    with pytest.raises(ProviderError) as caught:
        client(wire).complete(request(fallback_model=None))
    assert not caught.value.retryable and "empty choices" in str(caught.value)
    assert len(wire.requests) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([1, 2], "not a JSON object"),
        ({"id": "x"}, "no choices"),
        ({"choices": "many"}, "no choices"),
        ({"choices": ["text"]}, "choice is not an object"),
        ({"choices": [{"text": "legacy"}]}, "no message"),
        ({"choices": [{"message": {"content": None}}]}, "no text content"),
        ({"choices": [{"message": {"content": 42}}]}, "no text content"),
        ({"choices": [{"message": {"content": '  ""  '}}]}, "blank reply"),
    ],
)
def test_answers_of_the_wrong_shape_are_permanent_errors(body, reason):
    wire = Wire([httpx.Response(200, json=body)])
    with pytest.raises(ProviderError) as caught:
        client(wire).complete(request(fallback_model=None))
    assert not caught.value.retryable
    assert reason in str(caught.value)


def test_an_error_object_in_a_200_body_is_retryable_when_its_code_is():
    upstream = httpx.Response(200, json={"error": {"code": 502, "message": "upstream died"}})
    wire = Wire([upstream, completion("recovered")])
    assert client(wire).complete(request()).text == "recovered"
    assert wire.models == [PRIMARY, PRIMARY]


def test_an_error_object_with_a_client_code_is_permanent():
    wire = Wire([httpx.Response(200, json={"error": {"code": 400, "message": "context too long"}})])
    with pytest.raises(ProviderError) as caught:
        client(wire).complete(request(fallback_model=None))
    assert not caught.value.retryable and "context too long" in str(caught.value)


# --- streaming ---------------------------------------------------------------------------


def test_the_client_satisfies_the_streaming_protocol():
    assert isinstance(client(Wire([completion("x")])), StreamingChatModel)


def test_stream_yields_cleaned_chunks_that_join_to_the_cleaned_reply():
    pieces = ['  "He', "y, ", "you", '."', "  "]
    wire = Wire(
        [
            sse(
                delta(role="assistant"),
                *[delta(p) for p in pieces],
                {"choices": [], "usage": {"total_tokens": 9}},
            )
        ]
    )

    chunks = list(client(wire).stream(request()))

    assert "".join(chunks) == clean_response("".join(pieces)) == "Hey, you."
    assert all(chunks)
    body = wire.bodies[0]
    assert body["stream"] is True and body["model"] == PRIMARY
    assert wire.requests[0].headers["accept"] == "text/event-stream"


def test_stream_retries_a_429_before_the_first_chunk():
    sleeps = Sleeps()
    wire = Wire([status(429, **{"Retry-After": "1"}), sse(delta("hi"))])
    assert list(client(wire, sleeps).stream(request())) == ["hi"]
    assert sleeps == [1.0]


def test_stream_without_text_goes_to_the_fallback():
    wire = Wire([sse(delta(role="assistant")), sse(delta("from fallback"))])
    assert "".join(client(wire).stream(request())) == "from fallback"
    assert wire.models == [PRIMARY, FALLBACK]


def test_stream_failing_after_the_first_chunk_raises_from_the_iterator():
    wire = Wire([sse(delta("Hello "), "{not json", done=False)])
    chunks = client(wire).stream(request())
    assert next(chunks) == "Hello"
    with pytest.raises(ProviderError) as caught:
        next(chunks)
    assert "malformed stream event" in str(caught.value)
    assert len(wire.requests) == 1  # no retry once text has been shown


def test_stream_error_event_is_a_provider_error():
    wire = Wire([sse({"error": {"code": 429, "message": "slow down"}})])
    with pytest.raises(ProviderError) as caught:
        list(client(wire).stream(request(fallback_model=None)))
    assert caught.value.retryable and len(wire.requests) == 3


def test_a_server_that_ignores_stream_true_still_streams_one_chunk():
    wire = Wire([completion('"whole reply"')])
    assert list(client(wire).stream(request())) == ["whole reply"]


def test_stream_joins_multi_line_data_fields():
    body = 'data: {"choices": [{"delta":\ndata: {"content": "joined"}}]}\n\ndata: [DONE]\n\n'
    wire = Wire(
        [httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})]
    )
    assert list(client(wire).stream(request())) == ["joined"]
