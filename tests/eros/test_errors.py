"""One error shape for everything, including DRF's and Django's own errors; never a leak."""

from __future__ import annotations

import pytest

from companions.models import ChatMessage
from eros.llm.fakes import FakeChatModel
from tests.api import assert_error, db_snapshot


@pytest.mark.django_db
def test_wrong_method_is_405_with_allow_header(alice_session, client_for, alice):
    client = client_for(alice)
    response = client.get("/comp/chat/start")
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST, OPTIONS"
    response = client.delete(f"/comp/chat/{alice_session.id}/history")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@pytest.mark.django_db
def test_unknown_routes_anywhere_are_json_404(client_for, alice):
    for path in ("/nope", "/comp/", "/comp/chat/", "/api-docs/", "/comp/user/x/profile"):
        assert_error(client_for(alice).get(path), 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "bad_request"),
        ('{"message": "hi"', "application/json", 400, "bad_request"),
        (b'{"message": "\xff\xfe"}', "application/json", 400, "bad_request"),
        ('["hi"]', "application/json", 400, "validation_error"),
        ('"hi"', "application/json", 400, "validation_error"),
        ("null", "application/json", 400, "validation_error"),
        ("message=hi", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("message=hi", "text/plain", 415, "unsupported_media_type"),
        ("hi", "", 415, "unsupported_media_type"),
    ],
    ids=[
        "invalid-json",
        "truncated-json",
        "invalid-utf8",
        "array",
        "string",
        "null",
        "form",
        "text",
        "no-content-type",
    ],
)
def test_malformed_bodies_are_4xx_json_and_store_nothing(
    alice_session, client_for, alice, body, content_type, status, code
):
    before = db_snapshot()
    response = client_for(alice).generic(
        "POST", f"/comp/chat/{alice_session.id}/message", body, content_type=content_type
    )
    assert_error(response, status, code)
    assert db_snapshot() == before


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_413(alice_session, client_for, alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = db_snapshot()
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message",
        {"message": "hi", "padding": "x" * 20_000},
        format="json",
    )
    assert_error(response, 413, "payload_too_large")
    assert db_snapshot() == before


@pytest.mark.django_db
def test_a_message_of_4001_characters_is_413_and_4000_is_accepted(alice_session, client_for, alice):
    client = client_for(alice)
    url = f"/comp/chat/{alice_session.id}/message"
    body = assert_error(
        client.post(url, {"message": "y" * 4001}, format="json"), 413, "payload_too_large"
    )
    assert body["details"] == {"message": ["at most 4000 characters"]}
    assert client.post(url, {"content": "y" * 4000}, format="json").status_code == 200


@pytest.mark.django_db
def test_an_unexpected_failure_is_a_bare_500_and_the_message_is_kept(
    alice_session, client_for, alice, settings
):
    # Not a ProviderError: an internal defect, with text that must never reach the client.
    settings.EROS_CHAT_MODEL = FakeChatModel(
        fail_on=[1], error=RuntimeError('SELECT * FROM "secret" -- File "/srv/eros.py"')
    )
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "still here?"}, format="json"
    )
    assert response.status_code == 500
    assert response.json() == {"error": "internal", "message": "internal server error"}
    kept = ChatMessage.objects.get(session=alice_session, role="user")
    assert (kept.content, kept.turn_status) == ("still here?", "failed")


@pytest.mark.django_db
def test_an_unacceptable_accept_header_still_answers_json(client_for, alice):
    response = client_for(alice).get("/comp/personas", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert response.json()["error"] == "not_acceptable"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"message": "hi\u0000there"}, 400, "message"),
        ({"message": "\u3000\ufeff\t"}, 400, "message"),
        ({"message": "hi", "content": "   "}, 400, "content"),
        ({"message": "hi", "content": "z" * 4001}, 413, "content"),
    ],
    ids=["nul", "unicode-blank", "blank-alias", "long-alias"],
)
def test_every_text_field_present_must_be_valid(
    alice_session, client_for, alice, body, status, field
):
    before = db_snapshot()
    response = client_for(alice).post(f"/comp/chat/{alice_session.id}/message", body, format="json")
    error = assert_error(
        response, status, "validation_error" if status == 400 else "payload_too_large"
    )
    assert field in error["details"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_an_empty_query_parameter_is_400_not_the_default(alice_session, client_for, alice):
    for query in ("limit=", "offset="):
        response = client_for(alice).get(f"/comp/chat/{alice_session.id}/history?{query}")
        assert_error(response, 400, "validation_error")
