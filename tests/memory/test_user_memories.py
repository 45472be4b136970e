"""Memories a user adds and edits (``POST``/``PATCH /comp/user/{user_id}/memories``): pinned,
embedded on write, owner-only, and ranked before the others in recall."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.utils import timezone

from companions.models import ChatSession
from eros.llm.fakes import FakeEmbedder, unit_vector
from memory.models import CompanionMemory
from memory.selectors import memory_recall
from personas.models import PersonaInstance


def url(user_id, suffix=""):
    return f"/comp/user/{user_id}/memories{suffix}"


@pytest.fixture
def embedder(settings):
    embedder = FakeEmbedder({"My sister is called Lena": 7, "My sister is called Lina": 8})
    settings.EROS_EMBEDDER = embedder
    return embedder


@pytest.fixture
def alices_instance(personas, alice):
    genome = sorted(personas.values(), key=lambda g: g.name)[0]
    return PersonaInstance.objects.create(genome=genome, owner_uid=alice)


def stored_vector(memory_id) -> list[float]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT embedding::text FROM companion_memories WHERE id = %s", [memory_id])
        return [float(x) for x in cursor.fetchone()[0].strip("[]").split(",")]


@pytest.mark.django_db
def test_a_user_adds_a_pinned_profile_memory_embedded_on_write(client_for, alice, embedder):
    response = client_for(alice).post(
        url(alice), {"content": "My sister is called Lena", "importance": 0.9}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["content"] == "My sister is called Lena"
    assert body["layer"] == "profile" and body["instance_id"] is None
    assert body["session_id"] is None and body["pinned"] is True
    assert body["category"] == "fact" and body["importance"] == pytest.approx(0.9)
    row = CompanionMemory.objects.get(id=body["id"])
    assert (row.user_id, row.pinned, row.content) == (alice, True, "My sister is called Lena")
    assert stored_vector(row.id) == pytest.approx(unit_vector(7))
    assert embedder.calls == [("documents", ("My sister is called Lena",))]
    listed = client_for(alice).get(url(alice)).json()["memories"]
    assert [(m["id"], m["pinned"]) for m in listed] == [(body["id"], True)]


@pytest.mark.django_db
def test_a_user_adds_a_relationship_memory_to_their_own_instance(
    client_for, alice, alices_instance, embedder
):
    response = client_for(alice).post(
        url(alice),
        {
            "content": "We joke about the lighthouse",
            "layer": "relationship",
            "instance_id": str(alices_instance.id),
            "category": "relation",
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["layer"] == "relationship" and body["instance_id"] == str(alices_instance.id)
    row = CompanionMemory.objects.get(id=body["id"])
    assert row.instance_id == alices_instance.id and row.category == "relation"
    assert 0.0 <= row.importance <= 1.0


@pytest.mark.django_db
def test_a_relationship_memory_needs_an_instance_the_user_owns(
    client_for, alice, bob, personas, embedder
):
    genome = sorted(personas.values(), key=lambda g: g.name)[0]
    bobs = PersonaInstance.objects.create(genome=genome, owner_uid=bob)
    client = client_for(alice)
    for instance_id in (str(bobs.id), str(uuid.uuid4()), None):
        payload = {"content": "We joke about the lighthouse", "layer": "relationship"}
        if instance_id:
            payload["instance_id"] = instance_id
        response = client.post(url(alice), payload, format="json")
        assert response.status_code == 400, instance_id
        body = response.json()
        assert body["error"] == "validation_error" and "instance_id" in body["details"]
    profile_with_instance = client.post(
        url(alice), {"content": "x y z", "instance_id": str(bobs.id)}, format="json"
    )
    assert profile_with_instance.status_code == 400
    assert not CompanionMemory.objects.exists()
    assert embedder.calls == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"content": "   "},
        {"content": 5},
        {"content": "x" * 5000},
        {"content": "fine", "importance": 1.5},
        {"content": "fine", "importance": "high"},
        {"content": "fine", "layer": "dreams"},
        {"content": "fine", "category": "gossip"},
    ],
)
def test_bad_memory_bodies_are_400s(client_for, alice, embedder, payload):
    response = client_for(alice).post(url(alice), payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert not CompanionMemory.objects.exists()


@pytest.mark.django_db
def test_another_user_cannot_add_or_edit(client_for, alice, bob, embedder):
    mine = client_for(alice).post(url(alice), {"content": "I swim"}, format="json").json()
    added = client_for(bob).post(url(alice), {"content": "I swim"}, format="json")
    edited = client_for(bob).patch(url(alice, f"/{mine['id']}"), {"content": "no"}, format="json")
    assert (added.status_code, edited.status_code) == (403, 403)
    assert added.json()["error"] == edited.json()["error"] == "forbidden"
    assert list(CompanionMemory.objects.values_list("content", flat=True)) == ["I swim"]


@pytest.mark.django_db
def test_a_user_edits_a_memory_it_is_re_embedded_and_pinned(client_for, alice, embedder):
    session = ChatSession.objects.create(user_id=alice, instance_id=uuid.uuid4())
    memory = CompanionMemory.objects.create(
        session=session,
        user_id=alice,
        content="My sister is called Lena",
        embedding=unit_vector(7),
        category="relation",
        importance=0.4,
    )
    response = client_for(alice).patch(
        url(alice, f"/{memory.id}"),
        {"content": "My sister is called Lina", "importance": 0.8},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(memory.id) and body["content"] == "My sister is called Lina"
    assert body["pinned"] is True and body["importance"] == pytest.approx(0.8)
    assert body["session_id"] == str(session.id) and body["category"] == "relation"
    memory.refresh_from_db()
    assert (memory.content, memory.pinned, memory.importance) == (
        "My sister is called Lina",
        True,
        pytest.approx(0.8),
    )
    assert memory.updated_at > memory.created_at
    assert stored_vector(memory.id) == pytest.approx(unit_vector(8))
    assert embedder.calls == [("documents", ("My sister is called Lina",))]

    # Importance alone: no embeddings call, the vector stays.
    only = client_for(alice).patch(url(alice, f"/{memory.id}"), {"importance": 0.1}, format="json")
    assert only.status_code == 200 and only.json()["content"] == "My sister is called Lina"
    assert len(embedder.calls) == 1
    assert stored_vector(memory.id) == pytest.approx(unit_vector(8))


@pytest.mark.django_db
def test_editing_someone_elses_an_unknown_or_a_deleted_memory_is_404(
    client_for, alice, bob, embedder
):
    bobs = CompanionMemory.objects.create(
        user_id=bob, content="bob's", embedding=unit_vector(1), pinned=True
    )
    gone = CompanionMemory.objects.create(
        user_id=alice, content="gone", embedding=unit_vector(2), deleted_at=timezone.now()
    )
    client = client_for(alice)
    for memory_id in (bobs.id, uuid.uuid4(), gone.id):
        response = client.patch(url(alice, f"/{memory_id}"), {"content": "mine"}, format="json")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert CompanionMemory.objects.get(id=bobs.id).content == "bob's"
    assert CompanionMemory.objects.get(id=gone.id).content == "gone"


@pytest.mark.django_db
def test_an_empty_edit_is_400_and_a_failing_embedder_is_502(client_for, alice, embedder):
    memory = client_for(alice).post(url(alice), {"content": "I swim"}, format="json").json()
    empty = client_for(alice).patch(url(alice, f"/{memory['id']}"), {}, format="json")
    assert empty.status_code == 400 and empty.json()["error"] == "validation_error"
    embedder.fail_next()
    failed = client_for(alice).patch(
        url(alice, f"/{memory['id']}"), {"content": "I run"}, format="json"
    )
    assert failed.status_code == 502 and failed.json()["error"] == "upstream_error"
    assert CompanionMemory.objects.get(id=memory["id"]).content == "I swim"
    embedder.fail_next()
    add = client_for(alice).post(url(alice), {"content": "I run"}, format="json")
    assert add.status_code == 502 and CompanionMemory.objects.count() == 1


@pytest.mark.django_db
def test_pinned_memories_outrank_closer_ones_in_recall(alice, alices_instance):
    session = ChatSession.objects.create(user_id=alice, instance_id=alices_instance.id)

    def put(content, vector, *, pinned=False, instance_id=None):
        return CompanionMemory.objects.create(
            session=None if pinned else session,
            user_id=alice,
            instance_id=instance_id,
            content=content,
            embedding=vector,
            category="fact",
            pinned=pinned,
        )

    near = put("Works at the harbour", unit_vector(1))
    nearer = put("Works at the harbour office", unit_vector(1))
    pinned = put("Plays the cello", unit_vector(2), pinned=True)
    rel_near = put("Laughed about the harbour", unit_vector(1), instance_id=alices_instance.id)
    rel_pinned = put("Promised a song", unit_vector(3), pinned=True, instance_id=alices_instance.id)

    recall = memory_recall(
        user_id=alice,
        instance_id=alices_instance.id,
        query_vector=unit_vector(1),
        query_text="harbour work",
        now=timezone.now(),
        k_per_category=2,
    )
    ((category, facts),) = recall.profile_groups
    assert category == "fact"
    assert facts[0].id == pinned.id and facts[0].pinned is True
    assert facts[1].id in {near.id, nearer.id} and facts[1].score > facts[0].score
    assert [h.id for h in recall.relationship] == [rel_pinned.id, rel_near.id]


@pytest.mark.django_db
def test_content_over_the_limit_is_400_even_when_trimming_would_bring_it_under(
    client_for, alice, embedder, settings
):
    # The document says maxLength of the string as sent; DRF trims before its own check.
    limit = settings.MAX_MESSAGE_CHARS
    memory = client_for(alice).post(url(alice), {"content": "I swim"}, format="json").json()
    too_long = "\r" + "x" * limit
    edit = client_for(alice).patch(
        url(alice, f"/{memory['id']}"), {"content": too_long}, format="json"
    )
    assert edit.status_code == 400 and edit.json()["error"] == "validation_error"
    assert "content" in edit.json()["details"]
    assert CompanionMemory.objects.get(id=memory["id"]).content == "I swim"
    add = client_for(alice).post(url(alice), {"content": too_long}, format="json")
    assert add.status_code == 400 and CompanionMemory.objects.count() == 1
    at_limit = client_for(alice).patch(
        url(alice, f"/{memory['id']}"), {"content": " " + "y" * (limit - 1)}, format="json"
    )
    assert at_limit.status_code == 200
    assert CompanionMemory.objects.get(id=memory["id"]).content == "y" * (limit - 1)
