"""Rejected requests: the JSON error shape, and nothing written."""

from __future__ import annotations

import uuid

import pytest

from companions.models import ChatMessage, CompanionAffinity


def _snapshot():
    return (ChatMessage.objects.count(), CompanionAffinity.objects.count())


def _assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.content.decode()
    return body


@pytest.mark.django_db
def test_unknown_session_is_404(alice_session, client_for, alice):
    before = _snapshot()
    response = client_for(alice).post(
        f"/comp/chat/{uuid.uuid4()}/message", {"message": "hi"}, format="json"
    )
    _assert_error(response, 404, "not_found")
    assert _snapshot() == before


@pytest.mark.django_db
def test_another_users_session_is_403(alice_session, client_for, bob):
    before = _snapshot()
    response = client_for(bob).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hi"}, format="json"
    )
    _assert_error(response, 403, "forbidden")
    assert _snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer not-a-jwt",
        "Token abc",
        "Bearer ",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
    ],
    ids=["missing", "garbage", "wrong-scheme", "empty", "bad-signature"],
)
def test_missing_or_bad_token_is_401(alice_session, header):
    from rest_framework.test import APIClient

    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    before = _snapshot()
    response = client.post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hi"}, format="json"
    )
    _assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert _snapshot() == before


@pytest.mark.django_db
def test_expired_token_is_401(alice_session, alice):
    from rest_framework.test import APIClient

    from tests.conftest import token_for

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice, ttl_s=-120)}")
    response = client.post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hi"}, format="json"
    )
    _assert_error(response, 401, "unauthorized")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [{"message": ""}, {"message": "   \n"}, {}], ids=["empty", "blank", "absent"]
)
def test_empty_message_is_400(alice_session, client_for, alice, body):
    before = _snapshot()
    response = client_for(alice).post(f"/comp/chat/{alice_session.id}/message", body, format="json")
    error = _assert_error(response, 400, "validation_error")
    assert "message" in error["details"]
    assert _snapshot() == before


@pytest.mark.django_db
def test_message_over_the_limit_is_413(alice_session, client_for, alice, settings):
    before = _snapshot()
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message",
        {"message": "x" * (settings.MAX_MESSAGE_CHARS + 1)},
        format="json",
    )
    _assert_error(response, 413, "payload_too_large")
    assert _snapshot() == before


@pytest.mark.django_db
def test_unknown_memory_scope_is_400_naming_the_value(alice_session, client_for, alice):
    before = _snapshot()
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message",
        {"message": "hi", "memory_scope": "everything"},
        format="json",
    )
    error = _assert_error(response, 400, "validation_error")
    assert "everything" in error["details"]["memory_scope"][0]
    assert _snapshot() == before


@pytest.mark.django_db
def test_unrouted_path_and_invalid_uuid_answer_json_404(client_for, alice):
    for path in ("/comp/nope", "/comp/chat/not-a-uuid/message"):
        _assert_error(
            client_for(alice).post(path, {"message": "hi"}, format="json"), 404, "not_found"
        )


@pytest.mark.django_db
def test_invalid_json_is_400_and_wrong_content_type_is_415(alice_session, client_for, alice):
    client = client_for(alice)
    url = f"/comp/chat/{alice_session.id}/message"
    before = _snapshot()
    _assert_error(
        client.post(url, "{not json", content_type="application/json"), 400, "bad_request"
    )
    _assert_error(
        client.post(url, "message=hi", content_type="text/plain"), 415, "unsupported_media_type"
    )
    assert _snapshot() == before
