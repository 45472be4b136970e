"""Word chunks of a streamed reply, and the streaming fake chat model."""

from __future__ import annotations

import pytest

from eros.llm.base import ChatMessage, ChatRequest, ProviderError
from eros.llm.chunks import word_chunks
from eros.llm.fakes import StreamingFakeChatModel, StreamRecord

REQUEST = ChatRequest(task="chat_companion", model="m", messages=(ChatMessage("user", "hi"),))


@pytest.mark.parametrize(
    ("text", "chunks"),
    [
        ("Hi there!", ["Hi", " there!"]),
        ("", []),
        ("   ", ["   "]),
        ("  a  b  ", ["  a", "  b", "  "]),
        ("one\ntwo\n", ["one", "\ntwo", "\n"]),
        ("¿Qué tal?", ["¿Qué", " tal?"]),
    ],
)
def test_word_chunks_join_back_to_the_exact_text(text, chunks):
    assert word_chunks(text) == chunks
    assert "".join(word_chunks(text)) == text


def test_the_streaming_fake_yields_the_reply_word_by_word_and_records_it():
    model = StreamingFakeChatModel(["Hello there, you."])
    assert list(model.stream(REQUEST)) == ["Hello", " there,", " you."]
    assert model.streams == [StreamRecord(yielded=3, finished=True)]
    assert model.requests == [REQUEST]
    assert model.complete(REQUEST).text == "Hello there, you."


def test_the_streaming_fake_can_fail_mid_stream():
    model = StreamingFakeChatModel(chunks=["a", " b", " c"], fail_after=2)
    stream = model.stream(REQUEST)
    assert [next(stream), next(stream)] == ["a", " b"]
    with pytest.raises(ProviderError) as failure:
        next(stream)
    assert failure.value.retryable is True and failure.value.status == 503
    assert model.streams == [StreamRecord(yielded=2, failed=True)]


def test_closing_the_streaming_fake_early_is_recorded_as_a_cancelled_call():
    model = StreamingFakeChatModel(chunks=["a", " b", " c"])
    stream = model.stream(REQUEST)
    next(stream)
    stream.close()
    assert model.streams == [StreamRecord(yielded=1, closed=True)]
