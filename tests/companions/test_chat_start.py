"""``POST /comp/chat/start``: genome or instance, demo sessions, resume, and refusals."""

from __future__ import annotations

import uuid

import pytest

from companions.models import ChatSession
from personas.models import PersonaGenome, PersonaInstance
from tests.api import assert_error, db_snapshot

URL = "/comp/chat/start"


def _genome(personas):
    return sorted(personas.values(), key=lambda g: g.name)[0]


@pytest.mark.django_db
def test_start_with_a_genome_creates_instance_and_session_for_the_token_user(
    personas, client_for, alice
):
    genome = _genome(personas)
    response = client_for(alice).post(URL, {"genome_id": str(genome.id)}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"session_id", "instance_id", "persona_name", "is_new"}
    assert body["persona_name"] == genome.name and body["is_new"] is True
    session = ChatSession.objects.get(id=body["session_id"])
    assert session.user_id == alice and str(session.instance_id) == body["instance_id"]
    assert session.metadata == {} and session.is_demo is False
    instance = PersonaInstance.objects.get(id=body["instance_id"])
    assert (instance.genome_id, instance.owner_uid, instance.status) == (genome.id, alice, "active")


@pytest.mark.django_db
def test_starting_again_resumes_the_latest_session_and_bumps_last_active(
    personas, client_for, alice
):
    genome = _genome(personas)
    client = client_for(alice)
    first = client.post(URL, {"genome_id": str(genome.id), "is_demo": True}, format="json").json()
    session = ChatSession.objects.get(id=first["session_id"])
    before = session.last_active_at

    second = client.post(URL, {"genome_id": str(genome.id)}, format="json")

    assert second.status_code == 200
    body = second.json()
    assert body["session_id"] == first["session_id"] and body["is_new"] is False
    assert body["instance_id"] == first["instance_id"]
    session.refresh_from_db()
    assert session.last_active_at > before
    assert session.is_demo is True  # a resumed session keeps its metadata
    assert ChatSession.objects.filter(user_id=alice).count() == 1
    assert PersonaInstance.objects.filter(owner_uid=alice).count() == 1


@pytest.mark.django_db
def test_is_demo_marks_a_new_session(personas, client_for, alice):
    response = client_for(alice).post(
        URL, {"genome_id": str(_genome(personas).id), "is_demo": True}, format="json"
    )
    session = ChatSession.objects.get(id=response.json()["session_id"])
    assert session.metadata == {"is_demo": True}


@pytest.mark.django_db
def test_start_with_an_owned_instance_uses_it(personas, client_for, alice):
    genome = _genome(personas)
    instance = PersonaInstance.objects.create(genome=genome, owner_uid=alice)
    response = client_for(alice).post(URL, {"instance_id": str(instance.id)}, format="json")
    body = response.json()
    assert response.status_code == 200
    assert body["instance_id"] == str(instance.id) and body["persona_name"] == genome.name
    assert ChatSession.objects.get(id=body["session_id"]).instance_id == instance.id


@pytest.mark.django_db
def test_another_users_instance_is_403_and_nothing_is_written(personas, client_for, alice, bob):
    instance = PersonaInstance.objects.create(genome=_genome(personas), owner_uid=alice)
    before = db_snapshot()
    response = client_for(bob).post(URL, {"instance_id": str(instance.id)}, format="json")
    assert_error(response, 403, "forbidden")
    assert db_snapshot() == before


@pytest.mark.django_db
def test_a_non_active_instance_is_404_by_id_and_409_by_genome_never_500(
    personas, client_for, alice
):
    genome = _genome(personas)
    instance = PersonaInstance.objects.create(genome=genome, owner_uid=alice, status="archived")
    client = client_for(alice)
    before = db_snapshot()

    assert_error(
        client.post(URL, {"instance_id": str(instance.id)}, format="json"), 404, "not_found"
    )
    body = assert_error(
        client.post(URL, {"genome_id": str(genome.id)}, format="json"), 409, "conflict"
    )
    assert "archived" in body["message"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_unknown_genome_is_404_and_inactive_genome_is_400(personas, client_for, alice):
    client = client_for(alice)
    inactive = PersonaGenome.objects.create(name="Retired", system_prompt="x", is_active=False)
    before = db_snapshot()
    assert_error(
        client.post(URL, {"genome_id": str(uuid.uuid4())}, format="json"), 404, "not_found"
    )
    assert_error(
        client.post(URL, {"genome_id": str(inactive.id)}, format="json"), 400, "bad_request"
    )
    assert db_snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "genome_id"),
        ({"genome_id": None, "instance_id": None}, "genome_id"),
        ({"genome_id": "not-a-uuid"}, "genome_id"),
        ({"genome_id": 12345}, "genome_id"),
        ({"genome_id": "0123456789abcdef0123456789abcdef"}, "genome_id"),
        ({"instance_id": ["x"]}, "instance_id"),
        ({"genome_id": "00000000-0000-4000-8000-000000000001", "is_demo": "yes"}, "is_demo"),
        ({"genome_id": "00000000-0000-4000-8000-000000000001", "is_demo": 1}, "is_demo"),
    ],
    ids=["empty", "nulls", "bad-uuid", "int-uuid", "hex-uuid", "list-uuid", "str-bool", "int-bool"],
)
def test_malformed_start_bodies_are_400_naming_the_field(personas, client_for, alice, body, field):
    before = db_snapshot()
    error = assert_error(client_for(alice).post(URL, body, format="json"), 400, "validation_error")
    assert field in error["details"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_start_without_a_token_is_401(personas, client_for):
    response = client_for(None).post(URL, {"genome_id": str(_genome(personas).id)}, format="json")
    assert_error(response, 401, "unauthorized")
    assert ChatSession.objects.count() == 0
