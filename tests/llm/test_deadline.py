"""Overall deadlines of model calls, against a real server on 127.0.0.1 that trickles bytes.

A server sending one byte every 0.3 s never trips a read timeout (each byte restarts it), so
only the overall deadline can end such a call. Every test here gives a read timeout of a
minute and a deadline of one second, and checks that the call ends in about a second with
:class:`DeadlineExceeded` (a :class:`ProviderError`) and that the server saw the client leave.
"""

from __future__ import annotations

import time

import httpx
import pytest

from eros.llm.base import ChatMessage, ChatRequest, ProviderError
from eros.llm.chat import FALLBACK_SHARE, OpenAIChatModel, _lines
from eros.llm.deadline import Deadline, DeadlineExceeded, deadline_scope
from eros.llm.embeddings import OpenAIEmbedder
from eros.llm.httpclient import RetryPolicy
from tests.llm.wire import Sleeps, Wire, status
from tests.trickle_stub import (
    FIRST_THEN_TRICKLE,
    SILENT,
    TRICKLE,
    Completion,
    Status,
    TrickleStub,
)

PRIMARY = "primary-model"
FALLBACK = "fallback-model"
READ_TIMEOUT_S = 60.0
DEADLINE_S = 1.0
# Generous upper bound for a 1 s deadline on a shared 2-core machine; far below any timeout.
LATE_S = 1.8


def chat_request(fallback: str | None = None) -> ChatRequest:
    return ChatRequest(
        task="chat_companion",
        model=PRIMARY,
        fallback_model=fallback,
        messages=(ChatMessage("system", "You are Juno."), ChatMessage("user", "hi")),
    )


def chat_model(url: str, **kwargs) -> OpenAIChatModel:
    kwargs.setdefault("deadline_s", DEADLINE_S)
    return OpenAIChatModel(base_url=url, timeout_s=READ_TIMEOUT_S, **kwargs)


def timed(fn):
    started = time.monotonic()
    try:
        fn()
    except ProviderError as exc:
        return exc, time.monotonic() - started
    raise AssertionError("the call did not fail")


def test_a_trickling_server_cannot_hold_a_completion_past_the_deadline():
    with TrickleStub() as stub:
        error, elapsed = timed(lambda: chat_model(stub.url).complete(chat_request()))
        hung_up = stub.wait_for_hang_ups()

    assert isinstance(error, DeadlineExceeded) and error.retryable
    assert "deadline" in str(error)
    assert DEADLINE_S - 0.05 <= elapsed < LATE_S
    assert stub.models == [PRIMARY]  # no retry once the budget is spent
    # The client closed the connection: the server's next writes fail (a few bytes later).
    assert hung_up[0] is not None and hung_up[0] < elapsed + 1.0


def test_the_deadline_covers_retries_backoff_and_the_fallback_model():
    def plan(path, body):
        return Status(503) if body["model"] == PRIMARY else TRICKLE

    with TrickleStub(plan) as stub:
        model = chat_model(stub.url, retry=RetryPolicy(backoff_s=0.05))
        error, elapsed = timed(lambda: model.complete(chat_request(fallback=FALLBACK)))

    assert stub.models == [PRIMARY, PRIMARY, PRIMARY, FALLBACK]  # two retries, then fallback
    assert isinstance(error, DeadlineExceeded)
    assert isinstance(error.__cause__, ProviderError) and error.__cause__.status == 503
    assert DEADLINE_S - 0.05 <= elapsed < LATE_S


def test_a_hung_primary_leaves_the_fallback_its_share_of_the_budget():
    def plan(path, body):
        return TRICKLE if body["model"] == PRIMARY else Completion("Hi, you.")

    with TrickleStub(plan) as stub:
        result = chat_model(stub.url).complete(chat_request(fallback=FALLBACK))

    assert (result.model, result.text) == (FALLBACK, "Hi, you.")
    assert stub.models == [PRIMARY, FALLBACK]
    # The primary was given up on once only the fallback's share of the budget was left.
    primary_for = stub.seen[1].arrived - stub.seen[0].arrived
    assert DEADLINE_S * (1 - FALLBACK_SHARE) - 0.05 <= primary_for < DEADLINE_S


def test_both_models_trickling_still_end_at_the_deadline():
    with TrickleStub() as stub:
        error, elapsed = timed(
            lambda: chat_model(stub.url).complete(chat_request(fallback=FALLBACK))
        )

    assert stub.models == [PRIMARY, FALLBACK]
    assert isinstance(error, DeadlineExceeded)
    assert DEADLINE_S - 0.05 <= elapsed < LATE_S


def test_a_stream_of_keep_alives_fails_at_the_deadline_before_any_text():
    with TrickleStub() as stub:
        error, elapsed = timed(lambda: list(chat_model(stub.url).stream(chat_request())))

    assert isinstance(error, DeadlineExceeded)
    assert DEADLINE_S - 0.05 <= elapsed < LATE_S
    assert stub.seen[0].stream


def test_a_stream_that_began_still_ends_at_the_deadline():
    with TrickleStub(lambda path, body: FIRST_THEN_TRICKLE) as stub:
        chunks: list[str] = []
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            for chunk in chat_model(stub.url).stream(chat_request(fallback=FALLBACK)):
                chunks.append(chunk)
        elapsed = time.monotonic() - started

    assert "".join(chunks) == "Hello there"
    assert stub.models == [PRIMARY]  # it answered in time, so no fallback
    assert DEADLINE_S - 0.05 <= elapsed < LATE_S


def test_embeddings_end_at_the_deadline():
    with TrickleStub() as stub:
        embedder = OpenAIEmbedder(
            base_url=stub.url, model="m", timeout_s=READ_TIMEOUT_S, deadline_s=DEADLINE_S
        )
        for call in (lambda: embedder.embed_query("hi"), lambda: embedder.embed_documents(["a"])):
            error, elapsed = timed(call)
            assert isinstance(error, DeadlineExceeded)
            assert DEADLINE_S - 0.05 <= elapsed < LATE_S
    assert [s.path for s in stub.seen] == ["/v1/embeddings", "/v1/embeddings"]


def test_calls_in_a_deadline_scope_share_it():
    """A turn's recall embedding and chat completion end within one budget together."""
    with TrickleStub() as stub:
        embedder = OpenAIEmbedder(base_url=stub.url, model="m", timeout_s=READ_TIMEOUT_S)
        model = chat_model(stub.url, deadline_s=90.0)
        started = time.monotonic()
        with deadline_scope(DEADLINE_S):
            with pytest.raises(DeadlineExceeded):
                embedder.embed_query("hi")
            with pytest.raises(DeadlineExceeded):
                model.complete(chat_request(fallback=FALLBACK))
        elapsed = time.monotonic() - started

    assert [s.path for s in stub.seen] == ["/v1/embeddings"]  # no time left for the chat call
    assert DEADLINE_S - 0.05 <= elapsed < LATE_S


def test_a_silent_server_gets_a_read_timeout_cut_to_the_deadline():
    with TrickleStub(lambda path, body: SILENT) as stub:
        error, elapsed = timed(lambda: chat_model(stub.url).complete(chat_request()))

    assert isinstance(error, DeadlineExceeded)
    assert stub.models == [PRIMARY]  # the cut read timeout is not retried: the time is up
    assert DEADLINE_S - 0.05 <= elapsed < LATE_S


def test_a_retry_that_cannot_fit_before_the_deadline_is_not_waited_for():
    wire = Wire([status(429, **{"Retry-After": "5"})])
    sleeps = Sleeps()
    model = OpenAIChatModel(
        base_url="http://provider.test/v1",
        deadline_s=3.0,
        retry=RetryPolicy(sleep=sleeps),
        transport=wire.transport,
    )

    error, elapsed = timed(lambda: model.complete(chat_request()))

    assert isinstance(error, DeadlineExceeded)
    assert isinstance(error.__cause__, ProviderError) and error.__cause__.status == 429
    assert sleeps == [] and len(wire.requests) == 1 and elapsed < 0.5


def test_a_deadline_inside_a_shorter_scope_takes_the_scope_end():
    with deadline_scope(0.5):
        inner = Deadline.within(90.0)
    assert inner.budget_s <= 0.5
    outside = Deadline.within(90.0)
    assert 89.0 < outside.budget_s <= 90.0


def test_stream_lines_split_on_crlf_cr_and_lf_across_pieces():
    pieces = [b"data: a\r", b"\ndata: \xc3", b"\xa9\r\rdata: b\n", b"\n: end\r"]
    assert list(_lines(iter(pieces))) == ["data: a", "data: é", "", "data: b", "", ": end"]


def test_the_timeouts_of_one_attempt_never_exceed_what_remains():
    from eros.llm.httpclient import attempt_timeout

    base = httpx.Timeout(60.0, connect=5.0)
    cut = attempt_timeout("p", base, Deadline.within(2.0))
    assert all(0 < value <= 2.0 for value in (cut.connect, cut.read, cut.write, cut.pool))
    assert attempt_timeout("p", base, None) is base
    with pytest.raises(DeadlineExceeded):
        attempt_timeout("p", base, Deadline.within(0.0))
