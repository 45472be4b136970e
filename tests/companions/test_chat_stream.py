"""Streamed replies read from a live ASGI server: event order, payloads, database afterwards."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from django.utils import timezone

from companions.models import ChatMessage, CompanionAffinity, CompanionAffinityEvent
from companions.services import affinity as affinity_service
from memory.models import CompanionMemory
from tests.conftest import token_for
from tests.live import read_events

SYNC_FIELDS = {
    "reply",
    "ghosted",
    "message_id",
    "user_message_id",
    "session_id",
    "lead_score",
    "should_show_cta",
    "typing_delay_ms",
    "agent_training_level",
}


@pytest.fixture
def server(live_eros):
    return live_eros


def _stream(server, session_id, user_id, message: str):
    return httpx.stream(
        "POST",
        f"{server.base}/comp/chat/{session_id}/message/stream",
        json={"message": message},
        headers={
            "Authorization": f"Bearer {token_for(user_id)}",
            "Accept": "text/event-stream",
        },
        timeout=30,
    )


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _user_message(session, content: str) -> ChatMessage:
    return ChatMessage.objects.get(session=session, role="user", content=content)


@pytest.mark.django_db(transaction=True)
def test_a_reply_streams_meta_then_deltas_then_done_and_is_stored_cleaned(
    server, alice_session, alice
):
    server.script(['"Hello', " there,", " Alice.", '"'], delay_s=0.1)
    with _stream(server, alice_session.id, alice, "Hi! I live in Lisbon.") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        events = list(read_events(response))

    names = [name for name, _, _ in events]
    assert names == ["meta", "delta", "delta", "delta", "delta", "done"]
    meta, done = events[0][1], events[-1][1]
    user = _user_message(alice_session, "Hi! I live in Lisbon.")
    assert meta == {
        "user_message_id": str(user.id),
        "session_id": str(alice_session.id),
        "ghosted": False,
        "typing_delay_ms": meta["typing_delay_ms"],
    }
    assert 800 <= meta["typing_delay_ms"] <= 2499
    assert [data["text"] for name, data, _ in events if name == "delta"] == [
        '"Hello',
        " there,",
        " Alice.",
        '"',
    ]
    # Streamed, not buffered: the first words arrived well before the end.
    assert events[-1][2] - events[1][2] >= 0.2

    assert set(done) == SYNC_FIELDS
    assert done["reply"] == "Hello there, Alice."
    assert done["ghosted"] is False
    assert done["user_message_id"] == str(user.id)
    assert done["typing_delay_ms"] == meta["typing_delay_ms"]
    assert done["should_show_cta"] is False and done["lead_score"] == 0.0

    user.refresh_from_db()
    assert user.turn_status == "replied"
    assistant = ChatMessage.objects.get(session=alice_session, role="assistant")
    assert str(assistant.id) == done["message_id"]
    assert assistant.content == "Hello there, Alice."
    assert assistant.reply_to_id == user.id
    assert assistant.context["streamed"] is True and "interrupted" not in assistant.context
    assert assistant.context["plan"]["action"] == "reply"
    assert server.streams() == [{"yielded": 4, "finished": True, "failed": False, "closed": False}]
    # Post-process ran as for a sync turn: an affinity event and the turn's memories.
    event = CompanionAffinityEvent.objects.get(affinity__session=alice_session)
    assert event.context["user_message_id"] == str(user.id)
    (memory,) = CompanionMemory.objects.filter(session=alice_session)
    assert memory.content == "Lives in Lisbon" and memory.instance_id is None


@pytest.mark.django_db(transaction=True)
def test_a_ghosted_turn_streams_meta_and_done_with_no_reply_and_no_model_call(
    server, alice_session, alice
):
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
    server.script(["never", " sent"])

    with _stream(server, alice_session.id, alice, ".") as response:
        assert response.status_code == 200
        events = list(read_events(response))

    assert [name for name, _, _ in events] == ["meta", "done"]
    meta, done = events[0][1], events[1][1]
    assert meta["ghosted"] is True
    assert set(done) == SYNC_FIELDS
    assert done["ghosted"] is True and done["reply"] is None and done["message_id"] is None
    user = ChatMessage.objects.get(id=meta["user_message_id"])
    assert user.turn_status == "ghosted"
    assert not ChatMessage.objects.filter(session=alice_session, role="assistant").exists()
    assert server.streams() == []
    row.refresh_from_db()
    assert (row.ghost_streak, row.total_ghosts) == (1, 1)
    assert CompanionAffinityEvent.objects.get(affinity=row).event_type == "ghost"


@pytest.mark.django_db(transaction=True)
def test_a_provider_failure_mid_stream_ends_with_an_error_event_and_keeps_the_partial_text(
    server, alice_session, alice
):
    server.script(["I was", " about", " to say", " more"], delay_s=0.02, fail_after=2)
    with _stream(server, alice_session.id, alice, "tell me a story") as response:
        assert response.status_code == 200
        events = list(read_events(response))

    assert [name for name, _, _ in events] == ["meta", "delta", "delta", "error"]
    user = _user_message(alice_session, "tell me a story")
    assert events[-1][1] == {
        "error": "upstream_error",
        "message": "the model provider failed; please retry",
        "user_message_id": str(user.id),
    }
    user.refresh_from_db()
    assert user.turn_status == "failed"
    assert not ChatMessage.objects.filter(session=alice_session, role="assistant").exists()
    error_row = ChatMessage.objects.get(session=alice_session, role="system_error")
    assert error_row.reply_to_id == user.id
    assert error_row.content.startswith("reply failed: fake provider failure")
    assert error_row.context["partial_reply"] == "I was about"
    assert error_row.context["chunks"] == 2 and error_row.context["streamed"] is True
    assert server.streams() == [{"yielded": 2, "finished": False, "failed": True, "closed": False}]
    assert not CompanionAffinityEvent.objects.filter(affinity__session=alice_session).exists()


@pytest.mark.django_db(transaction=True)
def test_a_client_disconnect_mid_reply_cancels_the_model_and_stores_the_streamed_text(
    server, alice_session, alice
):
    server.script(["So", " anyway", " what", " I", " mean"], delay_s=0.6)
    with _stream(server, alice_session.id, alice, "go on") as response:
        events = read_events(response)
        assert next(events)[0] == "meta"
        name, data, _ = next(events)
        assert (name, data) == ("delta", {"text": "So"})
    # Leaving the block closed the connection after the first delta.

    user = _user_message(alice_session, "go on")
    _wait_for(lambda: server.streams())
    assistant = _wait_for(
        lambda: ChatMessage.objects.filter(session=alice_session, role="assistant").first()
    )
    # The model was stopped at its next chunk, which was never sent.
    assert server.streams() == [{"yielded": 2, "finished": False, "failed": False, "closed": True}]
    assert assistant.content == "So"
    assert assistant.reply_to_id == user.id
    assert assistant.context["interrupted"] is True and assistant.context["streamed"] is True
    user.refresh_from_db()
    assert user.turn_status == "replied"
    assert not ChatMessage.objects.filter(session=alice_session, role="system_error").exists()
    # Post-process runs for the interrupted reply as for any reply.
    _wait_for(
        lambda: CompanionAffinityEvent.objects.filter(affinity__session=alice_session).exists()
    )
    # Let the server finish every post-process part before the test's data is flushed: the
    # fan-out task and its two parts each leave a django-q2 result row.
    from django_q.models import Task

    _wait_for(lambda: Task.objects.count() >= 3)


@pytest.mark.django_db(transaction=True)
def test_a_client_disconnect_before_any_text_marks_the_turn_failed(server, alice_session, alice):
    server.script(["Too", " late"], delay_s=1.0)
    with _stream(server, alice_session.id, alice, "hello?") as response:
        assert next(read_events(response))[0] == "meta"

    user = _user_message(alice_session, "hello?")
    error_row = _wait_for(
        lambda: ChatMessage.objects.filter(session=alice_session, role="system_error").first()
    )
    assert error_row.reply_to_id == user.id
    assert error_row.content == "reply failed: client disconnected before the reply began"
    assert error_row.context["interrupted"] is True
    user.refresh_from_db()
    assert user.turn_status == "failed"
    assert not ChatMessage.objects.filter(session=alice_session, role="assistant").exists()
    _wait_for(lambda: server.streams())
    assert server.streams() == [{"yielded": 1, "finished": False, "failed": False, "closed": True}]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "session", "body", "status", "code"),
    [
        ("bob", "alice", {"message": "hi"}, 403, "forbidden"),
        ("alice", "unknown", {"message": "hi"}, 404, "not_found"),
        ("alice", "alice", {"message": "   "}, 400, "validation_error"),
        (
            "alice",
            "alice",
            {"message": "hi", "memory_scope": "everything"},
            400,
            "validation_error",
        ),
        ("alice", "alice", {"message": "x" * 4001}, 413, "payload_too_large"),
        (None, "alice", {"message": "hi"}, 401, "unauthorized"),
    ],
    ids=["stranger", "unknown-session", "empty", "bad-scope", "too-long", "no-token"],
)
def test_rejected_stream_requests_get_the_json_error_shape_before_any_event(
    client_for, alice_session, alice, bob, who, session, body, status, code
):
    user = {"alice": alice, "bob": bob, None: None}[who]
    session_id = alice_session.id if session == "alice" else uuid.uuid4()
    response = client_for(user).post(
        f"/comp/chat/{session_id}/message/stream",
        body,
        format="json",
        HTTP_ACCEPT="text/event-stream",
    )
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] == code
    assert not ChatMessage.objects.filter(session=alice_session).exists()


@pytest.mark.django_db
def test_a_stream_request_whose_body_is_not_json_is_415(client_for, alice_session, alice):
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message/stream",
        "message=hi",
        content_type="text/plain",
        HTTP_ACCEPT="text/event-stream",
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert not ChatMessage.objects.filter(session=alice_session).exists()


@pytest.mark.django_db
def test_the_openapi_document_describes_the_event_stream(client):
    document = client.get("/api-docs/openapi.json").json()
    operation = document["paths"]["/comp/chat/{session_id}/message/stream"]["post"]
    content = operation["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    for event in ("meta", "delta", "done", "error"):
        assert f"`{event}`" in operation["description"]
    assert "event: done" in content["text/event-stream"]["examples"]["Reply"]["value"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/MessageInputRequest"
    )
