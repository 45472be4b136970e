"""``message_async`` + ``pending``: the turn runs on a django-q2 task after it is stored."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from companions.models import ChatMessage, ChatSession, CompanionAffinity
from companions.scopes import resolve_affinity_scope, resolve_memory_scope
from companions.services import affinity as affinity_service
from companions.services.chat_pipeline import turn_begin, turn_run, turn_run_queued
from eros.errors import NotFound, Upstream
from eros.llm.fakes import FakeChatModel
from tests.api import assert_error, db_snapshot


@pytest.fixture
def fake_chat(settings):
    model = FakeChatModel(
        lambda request: "sure thing" if request.task == "chat_companion" else "{}"
    )
    settings.EROS_CHAT_MODEL = model
    return model


def _send(client, session, text="hello there", **extra):
    return client.post(
        f"/comp/chat/{session.id}/message_async", {"message": text, **extra}, format="json"
    )


def _poll(client, session, message_id):
    return client.get(f"/comp/chat/{session.id}/pending/{message_id}")


@pytest.mark.django_db
def test_async_message_is_stored_at_once_then_completed_by_the_task(
    alice_session, client_for, alice, fake_chat, django_capture_on_commit_callbacks
):
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _send(client, alice_session)

    assert response.status_code == 202, response.content
    body = response.json()
    assert body == {
        "status": "processing",
        "user_message_id": body["user_message_id"],
        "session_id": str(alice_session.id),
    }
    stored = ChatMessage.objects.get(id=body["user_message_id"])
    assert (stored.role, stored.content, stored.turn_status) == ("user", "hello there", "pending")
    assert len(callbacks) == 1  # the task is enqueued on commit, not before
    polled = _poll(client, alice_session, stored.id)
    assert polled.status_code == 200 and polled.json() == {"status": "processing", "message": None}
    assert fake_chat.calls == 0

    with django_capture_on_commit_callbacks(execute=True):
        callbacks[0]()  # the worker runs the queued task

    polled = _poll(client, alice_session, stored.id).json()
    reply = ChatMessage.objects.get(session=alice_session, role="assistant")
    assert polled["status"] == "completed"
    assert polled["message"] == {
        "reply": "sure thing",
        "message_id": str(reply.id),
        "lead_score": 0.0,
        "should_show_cta": False,
        "agent_training_level": 0.0,
        "sent_at": polled["message"]["sent_at"],
    }
    assert reply.reply_to_id == stored.id
    stored.refresh_from_db()
    assert stored.turn_status == "replied"


@pytest.mark.django_db(transaction=True)
def test_a_ghosted_async_turn_reports_ghosted(alice_session, client_for, alice, fake_chat):
    for i in range(9):
        ChatMessage.objects.create(
            session=alice_session, role="user", content=f"m{i}", turn_status="replied"
        )
    row = affinity_service.affinity_get_or_create(session=alice_session)
    CompanionAffinity.objects.filter(id=row.id).update(intrigue=0.0, patience=0.0, tension=1.0)
    client = client_for(alice)

    message_id = _send(client, alice_session, ".").json()["user_message_id"]

    assert _poll(client, alice_session, message_id).json() == {
        "status": "ghosted",
        "message": None,
    }
    assert ChatMessage.objects.get(id=message_id).turn_status == "ghosted"
    assert not ChatMessage.objects.filter(session=alice_session, role="assistant").exists()
    assert [r for r in fake_chat.requests if r.task == "chat_companion"] == []


@pytest.mark.django_db(transaction=True)
def test_a_failed_async_turn_reports_error_and_keeps_the_message(
    alice_session, client_for, alice, settings
):
    settings.EROS_CHAT_MODEL = FakeChatModel(fail_on=[1])
    client = client_for(alice)

    message_id = _send(client, alice_session, "are you there?").json()["user_message_id"]

    assert _poll(client, alice_session, message_id).json() == {"status": "error", "message": None}
    kept = ChatMessage.objects.get(id=message_id)
    assert (kept.content, kept.turn_status) == ("are you there?", "failed")
    error_row = ChatMessage.objects.get(session=alice_session, role="system_error")
    assert error_row.reply_to_id == kept.id


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_turn_task_does_not_answer_twice(alice_session, client_for, alice, fake_chat):
    message_id = _send(client_for(alice), alice_session).json()["user_message_id"]

    again = turn_run_queued(
        user_message_id=message_id, memory_scope="full", affinity_axes=["warmth"]
    )

    assert again == "replied"
    assert ChatMessage.objects.filter(session=alice_session, role="assistant").count() == 1
    assert [r.task for r in fake_chat.requests].count("chat_companion") == 1


@pytest.mark.django_db
def test_pending_needs_a_user_message_of_this_session(alice_session, personas, client_for, alice):
    other = ChatSession.objects.create(user_id=alice, instance_id=alice_session.instance_id)
    elsewhere = ChatMessage.objects.create(session=other, role="user", content="hi")
    reply = ChatMessage.objects.create(
        session=alice_session, role="assistant", content="hey", sent_at=timezone.now()
    )
    client = client_for(alice)
    for message_id in (elsewhere.id, reply.id, uuid.uuid4()):
        assert_error(_poll(client, alice_session, message_id), 404, "not_found")
    assert_error(client.get(f"/comp/chat/{alice_session.id}/pending/not-a-uuid"), 404, "not_found")


@pytest.mark.django_db
def test_pending_of_another_users_session_is_403_even_for_its_own_message(
    alice_session, client_for, bob
):
    message = ChatMessage.objects.create(session=alice_session, role="user", content="secret")
    assert_error(_poll(client_for(bob), alice_session, message.id), 403, "forbidden")
    assert_error(_poll(client_for(None), alice_session, message.id), 401, "unauthorized")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "validation_error"),
        ({"message": "  "}, 400, "validation_error"),
        ({"message": 42}, 400, "validation_error"),
        ({"message": "hi", "memory_scope": "everything"}, 400, "validation_error"),
        ({"message": "hi", "affinity_scope": ["warmth", "lust"]}, 400, "validation_error"),
        ({"message": "x" * 4001}, 413, "payload_too_large"),
    ],
    ids=["absent", "blank", "number", "memory-scope", "affinity-axis", "too-long"],
)
def test_bad_async_bodies_are_rejected_before_anything_is_stored(
    alice_session, client_for, alice, body, status, code
):
    before = db_snapshot()
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message_async", body, format="json"
    )
    assert_error(response, status, code)
    assert db_snapshot() == before


@pytest.mark.django_db
def test_async_to_another_users_session_is_403_and_unknown_is_404(
    alice_session, client_for, alice, bob
):
    before = db_snapshot()
    assert_error(_send(client_for(bob), alice_session), 403, "forbidden")
    unknown = client_for(alice).post(
        f"/comp/chat/{uuid.uuid4()}/message_async", {"message": "hi"}, format="json"
    )
    assert_error(unknown, 404, "not_found")
    assert_error(_send(client_for(None), alice_session), 401, "unauthorized")
    assert db_snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_an_async_turn_whose_persona_is_gone_reports_error(
    alice_session, client_for, alice, fake_chat
):
    from personas.models import PersonaInstance

    PersonaInstance.objects.filter(id=alice_session.instance_id).update(status="archived")
    client = client_for(alice)
    response = _send(client, alice_session)
    assert response.status_code == 202
    message_id = response.json()["user_message_id"]
    assert _poll(client, alice_session, message_id).json() == {"status": "error", "message": None}
    assert ChatMessage.objects.get(id=message_id).turn_status == "failed"
    assert fake_chat.calls == 0


@pytest.mark.django_db(transaction=True)
def test_the_worker_records_a_failed_turn_when_the_model_provider_fails(alice_session, settings):
    settings.EROS_CHAT_MODEL = FakeChatModel(fail_on=[1])
    message = turn_begin(session=alice_session, content="are you there?")

    status = turn_run_queued(
        user_message_id=message.id, memory_scope="full", affinity_axes=["warmth"]
    )

    assert status == "failed"
    assert ChatMessage.objects.get(id=message.id).turn_status == "failed"
    error_row = ChatMessage.objects.get(session=alice_session, role="system_error")
    assert error_row.reply_to_id == message.id


@pytest.mark.django_db(transaction=True)
def test_the_worker_records_a_failed_turn_when_the_persona_is_gone(alice_session, fake_chat):
    from personas.models import PersonaInstance

    PersonaInstance.objects.filter(id=alice_session.instance_id).update(status="archived")
    message = turn_begin(session=alice_session, content="hello?")

    status = turn_run_queued(
        user_message_id=message.id, memory_scope="full", affinity_axes=["warmth"]
    )

    assert status == "failed"
    assert ChatMessage.objects.get(id=message.id).turn_status == "failed"
    assert fake_chat.calls == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cause", ["provider", "persona"])
def test_a_failed_turn_raises_a_plain_application_error_not_an_http_one(
    alice_session, settings, cause
):
    from rest_framework.exceptions import APIException

    from personas.models import PersonaInstance

    settings.EROS_CHAT_MODEL = FakeChatModel(fail_on=[1])
    if cause == "persona":
        PersonaInstance.objects.filter(id=alice_session.instance_id).update(status="archived")
    message = turn_begin(session=alice_session, content="hello?")

    with pytest.raises(Upstream if cause == "provider" else NotFound) as raised:
        turn_run(
            session=alice_session,
            user_message=message,
            memory_scope=resolve_memory_scope("full"),
            affinity_axes=resolve_affinity_scope(["warmth"]),
        )

    assert not isinstance(raised.value, APIException)
    assert ChatMessage.objects.get(id=message.id).turn_status == "failed"
