"""The OpenAI-compatible facade through the official ``openai`` SDK, against a live eros.

The SDK talks HTTP to the scripted web process of ``tests/live.py`` with an eros JWT as its
API key, exactly as SillyTavern or Open WebUI would; the database is checked afterwards.
"""

from __future__ import annotations

import time

import openai
import pytest
from django.utils import timezone

from companions.models import ChatMessage, ChatSession, CompanionAffinity
from companions.services import affinity as affinity_service
from tests.api import db_snapshot
from tests.conftest import token_for

#: What a frontend sends around the user's message; eros reads only the last user message.
FRONTEND_PROMPT = [
    {"role": "system", "content": "You are Idris. Write one reply."},
    {"role": "user", "content": "an earlier message"},
    {"role": "assistant", "content": "an earlier reply"},
]


@pytest.fixture
def server(live_eros):
    return live_eros


def _client(server, user_id, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.base}/v1", api_key=token_for(user_id), timeout=30, **kwargs
    )


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _ask(text: str) -> list[dict]:
    return [*FRONTEND_PROMPT, {"role": "user", "content": text}]


def _cold_session(alice_session):
    """Make alice's next message in ``alice_session`` one the PDE ghosts (as test_ghost_turn)."""
    for i in range(9):
        ChatMessage.objects.create(
            session=alice_session,
            role="user",
            content=f"earlier {i}",
            turn_status="replied",
            sent_at=timezone.now(),
        )
    row = affinity_service.affinity_get_or_create(session=alice_session)
    CompanionAffinity.objects.filter(id=row.id).update(intrigue=0.05, patience=0.05, tension=0.5)
    return row


@pytest.mark.django_db(transaction=True)
def test_the_sdk_lists_the_active_personas_as_models(server, personas, alice):
    models = list(_client(server, alice).models.list())

    assert [model.id for model in models] == ["idris", "juno", "noor"]
    assert {model.owned_by for model in models} == {"eros"}
    assert {model.object for model in models} == {"model"}
    by_id = {model.id: model for model in models}
    assert by_id["juno"].created == int(personas["Juno"].created_at.timestamp())


@pytest.mark.django_db(transaction=True)
def test_a_whole_completion_is_one_stored_turn_with_the_persona(server, personas, alice):
    server.script(["Lisbon?", " I love", " that city."])

    completion = _client(server, alice).chat.completions.create(
        model="juno", messages=_ask("I live in Lisbon.")
    )

    assert completion.model == "juno" and completion.object == "chat.completion"
    (choice,) = completion.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == "Lisbon? I love that city."
    assert choice.finish_reason == "stop"

    session = ChatSession.objects.get(user_id=alice)
    greeting, *rows = ChatMessage.objects.filter(session=session).order_by("sent_at")
    # The facade starts the session like /comp/chat/start does: with the persona's greeting.
    assert greeting.role == "assistant" and greeting.reply_to_id is None
    assert [(m.role, m.content) for m in rows] == [
        ("user", "I live in Lisbon."),
        ("assistant", "Lisbon? I love that city."),
    ]
    user, reply = rows
    assert user.turn_status == "replied" and reply.reply_to_id == user.id
    assert completion.eros == {
        "ghosted": False,
        "session_id": str(session.id),
        "user_message_id": str(user.id),
        "message_id": str(reply.id),
    }
    assert completion.id == f"chatcmpl-{user.id.hex}"


@pytest.mark.django_db(transaction=True)
def test_a_streamed_completion_concatenates_to_exactly_the_stored_reply(
    server, alice_session, alice
):
    # Raw model text with the quotes eros strips from a stored reply.
    server.script(['"Hello', " there,", " Alice.", '"'], delay_s=0.05)

    stream = _client(server, alice).chat.completions.create(
        model="idris", messages=_ask("Hi! I am Alice."), stream=True
    )
    chunks = list(stream)

    assert chunks[0].choices[0].delta.role == "assistant"
    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert {chunk.model for chunk in chunks} == {"idris"}
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert len([c for c in chunks if c.choices[0].delta.content]) >= 3  # streamed, not one piece

    reply = ChatMessage.objects.get(session=alice_session, role="assistant")
    assert reply.content == "Hello there, Alice."
    assert text == reply.content
    user = ChatMessage.objects.get(session=alice_session, role="user")
    assert user.content == "Hi! I am Alice." and user.turn_status == "replied"
    assert last.eros == {
        "ghosted": False,
        "session_id": str(alice_session.id),
        "user_message_id": str(user.id),
        "message_id": str(reply.id),
    }
    assert server.streams() == [{"yielded": 4, "finished": True, "failed": False, "closed": False}]


@pytest.mark.django_db(transaction=True)
def test_a_ghosted_turn_is_a_completion_with_the_marker_and_the_eros_flag(
    server, alice_session, alice
):
    row = _cold_session(alice_session)
    server.script(["never", " sent"])

    completion = _client(server, alice).chat.completions.create(model="idris", messages=_ask("."))

    (choice,) = completion.choices
    assert choice.message.content == "*Idris doesn't answer.*"
    assert choice.finish_reason == "stop"
    user = ChatMessage.objects.get(session=alice_session, content=".")
    assert user.turn_status == "ghosted"
    assert completion.eros == {
        "ghosted": True,
        "session_id": str(alice_session.id),
        "user_message_id": str(user.id),
        "message_id": None,
    }
    assert not ChatMessage.objects.filter(session=alice_session, role="assistant").exists()
    assert server.streams() == []
    row.refresh_from_db()
    assert (row.ghost_streak, row.total_ghosts) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_a_ghosted_streamed_turn_sends_the_marker_then_stop(server, alice_session, alice):
    _cold_session(alice_session)
    server.script(["never", " sent"])

    chunks = list(
        _client(server, alice).chat.completions.create(
            model="idris", messages=_ask("."), stream=True
        )
    )

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == "*Idris doesn't answer.*"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].eros["ghosted"] is True and chunks[-1].eros["message_id"] is None
    assert ChatMessage.objects.get(session=alice_session, content=".").turn_status == "ghosted"
    assert not ChatMessage.objects.filter(session=alice_session, role="assistant").exists()
    assert server.streams() == []


@pytest.mark.django_db(transaction=True)
def test_a_provider_failure_mid_stream_raises_in_the_sdk_and_keeps_the_message(
    server, alice_session, alice
):
    server.script(["I was", " about"], fail_after=1)

    stream = _client(server, alice).chat.completions.create(
        model="idris", messages=_ask("tell me a story"), stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")

    assert caught.value.body["code"] == "upstream_error"
    assert caught.value.body["type"] == "server_error"
    assert "".join(received) == "I was"
    user = ChatMessage.objects.get(session=alice_session, role="user")
    assert user.content == "tell me a story" and user.turn_status == "failed"
    assert not ChatMessage.objects.filter(session=alice_session, role="assistant").exists()


@pytest.mark.django_db(transaction=True)
def test_closing_the_stream_early_stops_the_model_and_keeps_the_text_sent(
    server, alice_session, alice
):
    server.script(["So", " anyway", " what", " I", " mean"], delay_s=0.6)

    stream = _client(server, alice).chat.completions.create(
        model="idris", messages=_ask("go on"), stream=True
    )
    received = ""
    for chunk in stream:
        received += chunk.choices[0].delta.content or ""
        if received:
            break
    stream.close()

    assert received == "So"
    reply = _wait_for(
        lambda: ChatMessage.objects.filter(session=alice_session, role="assistant").first()
    )
    assert reply.content == "So" and reply.context["interrupted"] is True
    _wait_for(lambda: server.streams())
    assert server.streams() == [{"yielded": 2, "finished": False, "failed": False, "closed": True}]
    # Let the server finish the reply's post-process before the test's data is flushed.
    from django_q.models import Task

    _wait_for(lambda: Task.objects.count() >= 3)


@pytest.mark.django_db(transaction=True)
def test_an_unknown_model_is_not_found_and_a_bad_token_is_an_authentication_error(
    server, personas, alice
):
    before = db_snapshot()

    with pytest.raises(openai.NotFoundError) as caught:
        _client(server, alice).chat.completions.create(model="gpt-4o", messages=_ask("hi"))
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"

    stranger = openai.OpenAI(base_url=f"{server.base}/v1", api_key="sk-not-an-eros-token")
    with pytest.raises(openai.AuthenticationError) as caught:
        stranger.chat.completions.create(model="juno", messages=_ask("hi"))
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        stranger.models.list()

    assert db_snapshot() == before
