"""The streamed turn in-process: reply chunks from models with and without ``stream``."""

from __future__ import annotations

import asyncio
import time

import pytest

from companions.models import ChatMessage
from companions.scopes import resolve_affinity_scope, resolve_memory_scope
from companions.services.chat_pipeline import turn_begin, turn_prepare
from companions.services.streaming import iter_reply_chunks, turn_stream
from eros.llm.base import ChatMessage as LlmMessage
from eros.llm.base import ChatRequest
from eros.llm.fakes import (
    FakeChatModel,
    StreamingFakeChatModel,
    StreamRecord,
)

REQUEST = ChatRequest(task="chat_companion", model="m", messages=(LlmMessage("user", "hi"),))


class CompleteOnly:
    """A provider that can only answer whole (no ``stream`` attribute)."""

    name = "complete-only"

    def __init__(self, inner):
        self.inner = inner
        self.requests = []

    def complete(self, request):
        self.requests.append(request)
        return self.inner.complete(request)


def test_a_model_without_stream_answers_whole_and_is_cut_into_words():
    model = CompleteOnly(FakeChatModel(['"Hi" there']))
    stream = iter_reply_chunks(model, REQUEST)
    assert list(stream) == ['"Hi"', " there"]
    assert model.requests == [REQUEST]
    # complete() answers are cleaned by the provider; they are stored as given, like sync turns.
    assert stream.final_text('"Hi" there') == '"Hi" there'
    assert stream.model == "m"


def test_a_streaming_model_is_read_chunk_by_chunk_and_its_text_cleaned_once():
    model = StreamingFakeChatModel(chunks=['"Hi', ' there"'])
    stream = iter_reply_chunks(model, REQUEST)
    assert next(stream) == '"Hi'
    stream.close()
    assert model.streams == [StreamRecord(yielded=1, closed=True)]
    assert stream.final_text('"Hi there"') == "Hi there"


async def _collect(events):
    return [event async for event in events]


@pytest.mark.django_db(transaction=True)
def test_a_streamed_turn_from_a_model_without_stream_ends_like_a_sync_turn(alice_session):
    user_message = turn_begin(session=alice_session, content="Hi! I live in Lisbon.")
    prepared = turn_prepare(
        session=alice_session,
        user_message=user_message,
        memory_scope=resolve_memory_scope(None),
        affinity_axes=resolve_affinity_scope(None),
    )
    model = CompleteOnly(FakeChatModel(["Lisbon? Lucky you."]))
    events = asyncio.run(_collect(turn_stream(prepared=prepared, chat_model=model)))

    assert [e.name for e in events] == ["meta", "delta", "delta", "delta", "done"]
    assert "".join(e.data["text"] for e in events if e.name == "delta") == "Lisbon? Lucky you."
    outcome = events[-1].data
    assert outcome.reply == "Lisbon? Lucky you." and outcome.ghosted is False
    stored = ChatMessage.objects.get(session=alice_session, role="assistant")
    assert stored.id == outcome.assistant_message.id and stored.content == "Lisbon? Lucky you."
    assert stored.context["model"] == prepared.request.model
    assert stored.context["streamed"] is True and "interrupted" not in stored.context
    user_message.refresh_from_db()
    assert user_message.turn_status == "replied"


@pytest.mark.django_db(transaction=True)
def test_a_stream_left_right_after_meta_settles_the_turn_as_failed(alice_session):
    user_message = turn_begin(session=alice_session, content="anyone there?")
    prepared = turn_prepare(
        session=alice_session,
        user_message=user_message,
        memory_scope=resolve_memory_scope(None),
        affinity_axes=resolve_affinity_scope(None),
    )
    model = StreamingFakeChatModel(chunks=["Too", " late"], delay_s=0.3)

    async def first_then_leave():
        events = turn_stream(prepared=prepared, chat_model=model)
        first = await anext(events)
        await events.aclose()
        return first

    assert asyncio.run(first_then_leave()).name == "meta"
    deadline = time.monotonic() + 10
    while ChatMessage.objects.get(id=user_message.id).turn_status == "pending":
        assert time.monotonic() < deadline, "the turn was left pending"
        time.sleep(0.05)
    user_message.refresh_from_db()
    assert user_message.turn_status == "failed"
    error_row = ChatMessage.objects.get(session=alice_session, role="system_error")
    assert error_row.context["interrupted"] is True
    assert model.streams == [StreamRecord(yielded=1, closed=True)]
