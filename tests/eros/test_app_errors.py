"""Plain application errors (``eros.errors``) and how the one handler maps them to the API."""

from __future__ import annotations

import uuid

import pytest

from companions.models import ChatSession
from eros.api import exception_handler
from eros.errors import (
    AppError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Upstream,
    Validation,
)
from eros.llm.fakes import FakeChatModel, FakeEmbedder
from personas.models import PersonaGenome
from tests.api import assert_error, db_snapshot


class Gone(NotFound):
    """A subclass the handler's table does not name: it answers as its nearest mapped base."""


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (AppError("cannot"), 400, {"error": "bad_request", "message": "cannot"}),
        (
            Validation("bad field", details={"f": ["too odd"]}),
            400,
            {"error": "validation_error", "message": "bad field", "details": {"f": ["too odd"]}},
        ),
        (
            Validation("inactive", code="bad_request"),
            400,
            {"error": "bad_request", "message": "inactive"},
        ),
        (NotFound("no such thing"), 404, {"error": "not_found", "message": "no such thing"}),
        (Gone("long gone"), 404, {"error": "not_found", "message": "long gone"}),
        (Forbidden("not yours"), 403, {"error": "forbidden", "message": "not yours"}),
        (Conflict("archived"), 409, {"error": "conflict", "message": "archived"}),
        (
            PayloadTooLarge("too big", details={"message": ["at most 4 characters"]}),
            413,
            {
                "error": "payload_too_large",
                "message": "too big",
                "details": {"message": ["at most 4 characters"]},
            },
        ),
        (
            Upstream(),
            502,
            {"error": "upstream_error", "message": "the model provider failed; please retry"},
        ),
        (Validation(details={}), 400, {"error": "validation_error", "message": "invalid input"}),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_the_handler_maps_each_application_error_to_its_status_and_body(error, status, body):
    response = exception_handler(error, {"view": None})
    assert (response.status_code, response.data) == (status, body)


# --- the same errors, raised by services, selectors and views, through real requests --------


@pytest.mark.django_db
def test_an_unknown_session_is_not_found_and_another_users_is_forbidden(
    alice_session, client_for, alice, bob
):
    unknown = client_for(alice).get(f"/comp/chat/{uuid.uuid4()}/history")
    assert_error(unknown, 404, "not_found")
    assert unknown.json() == {"error": "not_found", "message": "session not found"}

    foreign = client_for(bob).get(f"/comp/chat/{alice_session.id}/history")
    assert_error(foreign, 403, "forbidden")
    assert foreign.json() == {"error": "forbidden", "message": "not your session"}


@pytest.mark.django_db
def test_session_start_errors_keep_their_codes_and_details(personas, client_for, alice):
    inactive = PersonaGenome.objects.create(name="Retired", system_prompt="x", is_active=False)
    client = client_for(alice)
    before = db_snapshot()

    missing = client.post("/comp/chat/start", {}, format="json")
    assert_error(missing, 400, "validation_error")
    assert missing.json() == {
        "error": "validation_error",
        "message": "missing genome_id (or instance_id)",
        "details": {"genome_id": ["genome_id or instance_id is required"]},
    }

    retired = client.post("/comp/chat/start", {"genome_id": str(inactive.id)}, format="json")
    assert_error(retired, 400, "bad_request")
    assert retired.json() == {"error": "bad_request", "message": "genome is not active"}
    assert db_snapshot() == before


@pytest.mark.django_db
def test_a_gift_to_a_session_without_persona_is_a_conflict(client_for, alice):
    session = ChatSession.objects.create(user_id=alice, instance_id=None)
    response = client_for(alice).post(
        f"/comp/chat/{session.id}/event/gift", {"deltas": {"warmth": 0.1}}, format="json"
    )
    assert_error(response, 409, "conflict")
    assert response.json() == {
        "error": "conflict",
        "message": "this session has no persona instance",
    }


@pytest.mark.django_db
def test_a_message_over_the_limit_is_payload_too_large_with_details(
    alice_session, client_for, alice, settings
):
    settings.MAX_MESSAGE_CHARS = 10
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "x" * 11}, format="json"
    )
    assert_error(response, 413, "payload_too_large")
    assert response.json() == {
        "error": "payload_too_large",
        "message": "message is 11 characters; the limit is 10",
        "details": {"message": ["at most 10 characters"]},
    }


@pytest.mark.django_db(transaction=True)
def test_a_failing_chat_model_is_upstream_error(alice_session, client_for, alice, settings):
    settings.EROS_CHAT_MODEL = FakeChatModel(fail_on=[1])
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "are you there?"}, format="json"
    )
    assert_error(response, 502, "upstream_error")
    assert response.json() == {
        "error": "upstream_error",
        "message": "the model provider failed; please retry",
    }


@pytest.mark.django_db
def test_a_failing_embedder_in_memory_search_is_upstream_error(client_for, alice, settings):
    embedder = FakeEmbedder()
    embedder.fail_next()
    settings.EROS_EMBEDDER = embedder
    response = client_for(alice).get(f"/comp/user/{alice}/memories", {"q": "work"})
    assert_error(response, 502, "upstream_error")
    assert response.json() == {
        "error": "upstream_error",
        "message": "the embeddings provider failed; please retry",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "suffix", "message"),
    [
        ("get", "memories", "you can only manage your own memories and data"),
        ("delete", f"memories/{uuid.uuid4()}", "you can only manage your own memories and data"),
        ("delete", "data", "you can only manage your own memories and data"),
        ("get", "profile", "not your data"),
    ],
)
def test_the_shared_owner_check_answers_forbidden_on_user_routes(
    client_for, alice, bob, method, suffix, message
):
    before = db_snapshot()
    response = getattr(client_for(bob), method)(f"/comp/user/{alice}/{suffix}")
    assert_error(response, 403, "forbidden")
    assert response.json() == {"error": "forbidden", "message": message}
    assert db_snapshot() == before
