"""The playground's "Dream now" route: the owner's session distilled at once, in development
only (``POST /playground/sessions/{session_id}/dream``)."""

from __future__ import annotations

import uuid

import pytest

from companions.models import ChatSession
from eros.llm.offline import OfflineChatModel
from memory.models import CompanionMemory
from tests.api import assert_error

LINES = ["I live in Lisbon.", "ok", "I work as a nurse at the children's hospital."]


@pytest.fixture(autouse=True)
def offline(settings):
    settings.EROS_CHAT_MODEL = OfflineChatModel()
    settings.EROS_PLAYGROUND = True
    settings.EROS_ENV = "development"


@pytest.fixture
def chatted(alice_session, client_for, alice):
    client = client_for(alice)
    for line in LINES:
        response = client.post(
            f"/comp/chat/{alice_session.id}/message", {"message": line}, format="json"
        )
        assert response.status_code == 200, response.content
    return alice_session


def dream(client, session_id):
    return client.post(f"/playground/sessions/{session_id}/dream", {}, format="json")


@pytest.mark.django_db
def test_the_owner_dreams_now_and_sees_what_was_remembered(chatted, client_for, alice):
    response = dream(client_for(alice), chatted.id)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["session_id"], body["status"]) == (str(chatted.id), "distilled")
    assert body["messages"] == 2 * len(LINES)
    assert body["created"] == len(body["memories"]) >= 2
    rows = CompanionMemory.objects.filter(id__in=[m["id"] for m in body["memories"]])
    assert {(str(r.id), r.content, r.category) for r in rows} == {
        (m["id"], m["content"], m["category"]) for m in body["memories"]
    }
    assert all(r.user_id == alice and r.category for r in rows)
    assert any("Lisbon" in m["content"] for m in body["memories"])
    chatted.refresh_from_db()
    assert chatted.classified_at is not None

    again = dream(client_for(alice), chatted.id).json()  # nothing new since
    assert (again["status"], again["messages"], again["memories"]) == ("empty", 0, [])


@pytest.mark.parametrize(("playground", "env"), [(False, "development"), (True, "production")])
@pytest.mark.django_db
def test_the_route_is_absent_when_the_playground_is_off(
    chatted, client_for, alice, settings, playground, env
):
    clients = (client_for(alice), client_for(None))  # tokens minted in development
    settings.EROS_PLAYGROUND, settings.EROS_ENV = playground, env
    for client in clients:
        assert_error(dream(client, chatted.id), 404, "not_found")
    chatted.refresh_from_db()
    assert chatted.classified_at is None
    assert not CompanionMemory.objects.filter(category__isnull=False).exists()


@pytest.mark.django_db
def test_another_users_session_is_forbidden_and_left_alone(chatted, client_for, bob):
    assert_error(dream(client_for(bob), chatted.id), 403, "forbidden")
    chatted.refresh_from_db()
    assert chatted.classified_at is None
    assert not CompanionMemory.objects.filter(category__isnull=False).exists()


@pytest.mark.django_db
def test_an_unknown_session_is_not_found_and_no_token_is_unauthorized(client_for, alice):
    assert_error(dream(client_for(alice), uuid.uuid4()), 404, "not_found")
    assert_error(dream(client_for(None), uuid.uuid4()), 401, "unauthorized")
    assert not ChatSession.objects.exists()


@pytest.mark.django_db
def test_the_playground_page_has_the_dream_now_button(client, settings):
    response = client.get("/playground/", REMOTE_ADDR="127.0.0.1", HTTP_HOST="localhost:8080")
    assert response.status_code == 200
    assert 'id="dream"' in response.content.decode()
