"""``GET /comp/chat/{user_id}/sessions``: the caller's sessions with persona names."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from companions.models import ChatSession
from companions.services.sessions import session_start
from tests.api import assert_error


@pytest.mark.django_db
def test_sessions_are_listed_newest_activity_first_with_persona_names(
    personas, client_for, alice, bob
):
    names = sorted(personas)
    first = session_start(user_id=alice, genome_id=personas[names[0]].id).session
    second = session_start(user_id=alice, genome_id=personas[names[1]].id).session
    orphan = ChatSession.objects.create(user_id=alice, instance_id=uuid.uuid4())
    session_start(user_id=bob, genome_id=personas[names[0]].id)
    now = timezone.now()
    ChatSession.objects.filter(id=first.id).update(last_active_at=now, lead_score=4.5)
    ChatSession.objects.filter(id=second.id).update(last_active_at=now - timedelta(hours=1))
    ChatSession.objects.filter(id=orphan.id).update(last_active_at=now - timedelta(days=1))

    client = client_for(alice)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/comp/chat/{alice}/sessions")

    assert response.status_code == 200
    assert len(queries) == 1
    body = response.json()
    assert body["user_id"] == str(alice)
    assert [s["session_id"] for s in body["sessions"]] == [
        str(first.id),
        str(second.id),
        str(orphan.id),
    ]
    assert [s["persona_name"] for s in body["sessions"]] == [names[0], names[1], None]
    top = body["sessions"][0]
    assert set(top) == {
        "session_id",
        "instance_id",
        "persona_name",
        "lead_score",
        "is_converted",
        "last_active_at",
    }
    assert top["instance_id"] == str(first.instance_id)
    assert top["lead_score"] == 4.5 and top["is_converted"] is False


@pytest.mark.django_db
def test_a_user_without_sessions_gets_an_empty_list(client_for, alice):
    response = client_for(alice).get(f"/comp/chat/{alice}/sessions")
    assert response.json() == {"user_id": str(alice), "sessions": []}


@pytest.mark.django_db
def test_another_users_sessions_are_403_and_no_token_is_401(alice_session, client_for, alice, bob):
    assert_error(client_for(bob).get(f"/comp/chat/{alice}/sessions"), 403, "forbidden")
    assert_error(client_for(None).get(f"/comp/chat/{alice}/sessions"), 401, "unauthorized")
    assert_error(client_for(alice).get("/comp/chat/alice/sessions"), 404, "not_found")
