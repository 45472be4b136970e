"""Gift events: ``POST …/event/gift`` moves the affinity; ``GET …/gifts`` lists them."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from companions.models import ChatMessage, ChatSession, CompanionAffinity, CompanionAffinityEvent
from companions.services import affinity as affinity_service
from tests.api import assert_error, db_snapshot

ROSE = {
    "deltas": {"warmth": 0.2, "trust": 0.1, "intrigue": 0, "intimacy": 0.05},
    "label": "rose",
    "metadata": {"source": "test"},
}


def _gift(client, session, body=ROSE):
    return client.post(f"/comp/chat/{session.id}/event/gift", body, format="json")


@pytest.mark.django_db
def test_gift_appends_a_message_and_one_gift_event_with_the_ema_applied(
    alice_session, client_for, alice, settings
):
    settings.EMA_INERTIA = 0.0
    response = _gift(client_for(alice), alice_session)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reply"] is None
    assert body["applied_deltas"] == {
        "warmth": 0.2,
        "trust": 0.1,
        "intrigue": 0.0,
        "intimacy": 0.05,
        "patience": 0.0,
        "tension": 0.0,
    }
    (message,) = ChatMessage.objects.filter(session=alice_session, role="gift_user")
    assert message.content == "rose"
    row = CompanionAffinity.objects.get(session=alice_session)
    assert row.warmth == pytest.approx(0.5, abs=1e-9)
    assert row.trust == pytest.approx(0.3, abs=1e-9)
    assert body["relationship_label"] == row.relationship_label == "stranger"
    (event,) = CompanionAffinityEvent.objects.filter(affinity=row)
    assert event.event_type == "gift"
    assert event.deltas["warmth"] == 0.2
    assert event.context["source"] == "gift" and event.context["label"] == "rose"
    assert event.context["metadata"] == {"source": "test"}
    assert event.context["gift_message_id"] == str(message.id)


@pytest.mark.django_db
def test_a_demo_session_uses_the_demo_inertia_and_the_label_defaults_to_gift(
    alice_session, client_for, alice, settings
):
    settings.EMA_INERTIA, settings.DEMO_EMA_INERTIA = 0.8, 0.5
    ChatSession.objects.filter(id=alice_session.id).update(metadata={"is_demo": True})
    alice_session.refresh_from_db()
    response = _gift(client_for(alice), alice_session, {"deltas": {"warmth": 0.4}})
    assert response.status_code == 200
    assert CompanionAffinity.objects.get(session=alice_session).warmth == pytest.approx(0.5)
    assert ChatMessage.objects.get(session=alice_session, role="gift_user").content == "gift"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "deltas"),
        ({"deltas": {"warmth": "0.2"}}, "deltas"),
        ({"deltas": {"warmth": True}}, "deltas"),
        ({"deltas": {"warmth": None}}, "deltas"),
        ({"deltas": {"warmth": 5}}, "deltas"),
        ({"deltas": {"lust": 0.1}}, "deltas"),
        ({"deltas": [0.1]}, "deltas"),
        ({"deltas": {}, "label": 7}, "label"),
        ({"deltas": {}, "metadata": [1, 2]}, "metadata"),
        ({"deltas": {}, "label": "x" * 201}, "label"),
        ({"deltas": {}, "label": "ro\u0000se"}, "label"),
    ],
    ids=[
        "absent",
        "string",
        "bool",
        "null",
        "out-of-range",
        "unknown-axis",
        "list",
        "label-number",
        "metadata-list",
        "label-long",
        "label-nul",
    ],
)
def test_gift_deltas_must_be_numbers_on_known_axes(alice_session, client_for, alice, body, field):
    before = db_snapshot()
    error = assert_error(_gift(client_for(alice), alice_session, body), 400, "validation_error")
    assert field in error["details"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_gift_json_with_nan_is_rejected(alice_session, client_for, alice):
    before = db_snapshot()
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/event/gift",
        '{"deltas": {"warmth": NaN}}',
        content_type="application/json",
    )
    assert_error(response, 400, "bad_request")
    assert db_snapshot() == before


@pytest.mark.django_db
def test_a_session_without_a_persona_instance_is_409(client_for, alice):
    session = ChatSession.objects.create(user_id=alice, instance_id=None)
    before = db_snapshot()
    assert_error(_gift(client_for(alice), session), 409, "conflict")
    assert db_snapshot() == before


@pytest.mark.django_db
def test_gifts_are_private(alice_session, client_for, alice, bob):
    before = db_snapshot()
    assert_error(_gift(client_for(bob), alice_session), 403, "forbidden")
    assert_error(_gift(client_for(None), alice_session), 401, "unauthorized")
    assert_error(
        client_for(alice).post(f"/comp/chat/{uuid.uuid4()}/event/gift", ROSE, format="json"),
        404,
        "not_found",
    )
    assert_error(client_for(bob).get(f"/comp/chat/{alice_session.id}/gifts"), 403, "forbidden")
    assert_error(client_for(None).get(f"/comp/chat/{alice_session.id}/gifts"), 401, "unauthorized")
    assert db_snapshot() == before


@pytest.mark.django_db
def test_gift_list_is_newest_first_and_paginated(alice_session, client_for, alice):
    client = client_for(alice)
    for i in range(5):
        body = {"deltas": {"warmth": 0.01 * i}, "label": f"g{i}", "metadata": {"n": i}}
        assert _gift(client, alice_session, body).status_code == 200

    first = client.get(f"/comp/chat/{alice_session.id}/gifts?limit=2").json()
    assert first["total"] == 5 and first["has_more"] is True
    assert [g["label"] for g in first["gifts"]] == ["g4", "g3"]
    gift = first["gifts"][0]
    assert set(gift) == {"id", "label", "deltas", "metadata", "created_at"}
    assert gift["metadata"] == {"n": 4} and gift["deltas"]["warmth"] == pytest.approx(0.04)
    event = CompanionAffinityEvent.objects.get(id=gift["id"])
    assert event.event_type == "gift"

    last = client.get(f"/comp/chat/{alice_session.id}/gifts?limit=2&offset=4").json()
    assert [g["label"] for g in last["gifts"]] == ["g0"] and last["has_more"] is False
    assert_error(
        client.get(f"/comp/chat/{alice_session.id}/gifts?offset=x"), 400, "validation_error"
    )


@pytest.mark.django_db
def test_message_events_are_not_gifts(alice_session, client_for, alice):
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hello"}, format="json"
    )
    assert response.status_code == 200
    body = client_for(alice).get(f"/comp/chat/{alice_session.id}/gifts").json()
    assert body == {"gifts": [], "total": 0, "has_more": False}


@pytest.mark.django_db
def test_nul_characters_in_gift_metadata_are_stored_as_replacement_characters(
    alice_session, client_for, alice
):
    body = {"deltas": {}, "metadata": {"no\u0000te": ["a\u0000b", {"k": "\u0000"}]}}
    response = _gift(client_for(alice), alice_session, body)
    assert response.status_code == 200, response.content
    event = CompanionAffinityEvent.objects.get(affinity__session=alice_session)
    assert event.context["metadata"] == {"no\ufffdte": ["a\ufffdb", {"k": "\ufffd"}]}


@pytest.mark.django_db
def test_the_gift_response_reports_the_change_applied_after_ema_and_clamps(
    alice_session, client_for, alice, settings
):
    settings.EMA_INERTIA = 0.8
    row = affinity_service.affinity_get_or_create(session=alice_session)
    CompanionAffinity.objects.filter(id=row.id).update(warmth=0.95, updated_at=timezone.now())
    deltas = {"warmth": 1.0, "trust": 0.5, "tension": -1.0}
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/event/gift", {"deltas": deltas}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    # The requested deltas are still echoed; the change applied is next to them.
    assert body["applied_deltas"]["warmth"] == 1.0 and body["applied_deltas"]["tension"] == -1.0
    change = body["affinity_change"]
    assert set(change) == {"warmth", "trust", "intrigue", "intimacy", "patience", "tension"}
    assert change["warmth"] == pytest.approx(0.05, abs=1e-6)  # 0.95 + 0.2 clamped to 1.0
    assert change["trust"] == pytest.approx(0.1, abs=1e-6)  # 0.2 × 0.5
    assert change["tension"] == pytest.approx(-0.1, abs=1e-6)  # 0.1 − 0.2 clamped to 0.0
    assert change["intrigue"] == change["intimacy"] == change["patience"] == 0.0
    row.refresh_from_db()
    assert row.warmth == 1.0 and row.tension == 0.0
