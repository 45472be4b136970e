"""``/comp/user/{user_id}/memories`` and ``/comp/user/{user_id}/data`` (DESIGN §4)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from companions.models import ChatMessage, ChatSession, CompanionAffinity, CompanionAffinityEvent
from eros.llm.fakes import FakeEmbedder, unit_vector
from insights.models import CompanionInsights
from memory.models import CompanionMemory
from memory.selectors import memory_list, memory_recall
from memory.services import memory_restore
from personas.models import PersonaInstance


@pytest.fixture
def alice_memories(alice):
    """Five memories of alice (profile: 2 facts, 1 raw; relationship: 2) and one deleted."""
    session = ChatSession.objects.create(user_id=alice, instance_id=uuid.uuid4())
    other = ChatSession.objects.create(user_id=alice, instance_id=uuid.uuid4())
    base = timezone.now() - timedelta(days=1)

    def put(content, seed, *, minutes, session=session, layer="profile", **extra):
        return CompanionMemory.objects.create(
            session=session,
            user_id=alice,
            instance_id=session.instance_id if layer == "relationship" else None,
            content=content,
            embedding=unit_vector(seed),
            created_at=base + timedelta(minutes=minutes),
            **extra,
        )

    return {
        "session": session,
        "other": other,
        "lisbon": put("Lives in Lisbon", 1, minutes=1, category="fact"),
        "nurse": put("Works as a nurse", 2, minutes=2, category="fact"),
        "raw": put("ugh, mondays", 3, minutes=3),
        "lighthouse": put(
            "User: the lighthouse!\nJuno: so windy", 4, minutes=4, layer="relationship"
        ),
        "elsewhere": put(
            "User: hi\nIdris: hello", 5, minutes=5, session=other, layer="relationship"
        ),
        "deleted": put("Hates tea", 6, minutes=6, category="preference", deleted_at=timezone.now()),
    }


def url(user_id, suffix="memories"):
    return f"/comp/user/{user_id}/{suffix}"


def contents(response):
    return [m["content"] for m in response.json()["memories"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", "memories"), ("delete", f"memories/{uuid.uuid4()}"), ("delete", "data")],
)
def test_every_route_needs_a_token(client_for, alice, method, suffix):
    response = getattr(client_for(None), method)(url(alice, suffix))
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", "memories"), ("delete", "memories/{lisbon}"), ("delete", "data")],
)
def test_another_user_gets_403_and_changes_nothing(
    client_for, alice, bob, alice_memories, method, suffix
):
    path = url(alice, suffix.format(lisbon=alice_memories["lisbon"].id))
    response = getattr(client_for(bob), method)(path)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert CompanionMemory.objects.filter(user_id=alice, deleted_at__isnull=True).count() == 5
    assert ChatSession.objects.filter(user_id=alice).count() == 2


@pytest.mark.django_db
def test_list_returns_live_memories_newest_first_without_vectors(client_for, alice, alice_memories):
    response = client_for(alice).get(url(alice))
    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == str(alice)
    assert (body["total"], body["has_more"]) == (5, False)
    assert contents(response) == [
        "User: hi\nIdris: hello",
        "User: the lighthouse!\nJuno: so windy",
        "ugh, mondays",
        "Works as a nurse",
        "Lives in Lisbon",
    ]
    first = body["memories"][-1]
    assert set(first) == {
        "id",
        "layer",
        "session_id",
        "instance_id",
        "category",
        "content",
        "source_message_ids",
        "importance",
        "occurred_at",
        "created_at",
        "updated_at",
        "pinned",
        "slot",
        "valid_to",
        "superseded_by",
    }
    assert first["layer"] == "profile" and first["category"] == "fact"
    assert first["id"] == str(alice_memories["lisbon"].id)


@pytest.mark.django_db
def test_list_filters_by_layer_instance_and_category(client_for, alice, alice_memories):
    client = client_for(alice)
    assert contents(client.get(url(alice), {"layer": "profile"})) == [
        "ugh, mondays",
        "Works as a nurse",
        "Lives in Lisbon",
    ]
    relationship = client.get(url(alice), {"layer": "relationship"}).json()["memories"]
    assert {m["layer"] for m in relationship} == {"relationship"} and len(relationship) == 2
    instance = alice_memories["session"].instance_id
    assert contents(client.get(url(alice), {"instance_id": str(instance)})) == [
        "User: the lighthouse!\nJuno: so windy"
    ]
    assert contents(client.get(url(alice), {"category": "fact"})) == [
        "Works as a nurse",
        "Lives in Lisbon",
    ]
    assert contents(client.get(url(alice), {"category": "preference"})) == []


@pytest.mark.django_db
def test_list_is_paginated(client_for, alice, alice_memories):
    client = client_for(alice)
    first = client.get(url(alice), {"limit": 2}).json()
    second = client.get(url(alice), {"limit": 2, "offset": 4}).json()
    assert [len(first["memories"]), first["total"], first["has_more"]] == [2, 5, True]
    assert [len(second["memories"]), second["total"], second["has_more"]] == [1, 5, False]
    assert second["memories"][0]["content"] == "Lives in Lisbon"


@pytest.mark.django_db
def test_q_ranks_by_similarity(client_for, alice, alice_memories, settings):
    settings.EROS_EMBEDDER = FakeEmbedder({"where do I work?": 2})
    body = client_for(alice).get(url(alice), {"q": "where do I work?", "limit": 2}).json()
    assert [m["content"] for m in body["memories"]][0] == "Works as a nurse"
    assert body["memories"][0]["similarity"] == pytest.approx(1.0)
    assert body["memories"][1]["similarity"] == pytest.approx(0.0)
    assert (body["total"], body["has_more"]) == (5, True)


@pytest.mark.django_db
def test_q_with_a_failing_embedder_is_a_clean_502(client_for, alice, alice_memories, settings):
    embedder = FakeEmbedder()
    embedder.fail_next()
    settings.EROS_EMBEDDER = embedder
    response = client_for(alice).get(url(alice), {"q": "work"})
    assert response.status_code == 502
    assert response.json()["error"] == "upstream_error"


@pytest.mark.django_db
def test_memory_list_embeds_q_with_the_given_embedder_and_ignores_a_blank_q(
    alice, alice_memories, settings
):
    configured = FakeEmbedder()
    settings.EROS_EMBEDDER = configured
    embedder = FakeEmbedder({"where do I work?": 2})

    page = memory_list(user_id=alice, q="  where do I work?  ", limit=1, embedder=embedder)
    newest = memory_list(user_id=alice, q="   ", limit=1, embedder=embedder)

    assert [m["content"] for m in page.items] == ["Works as a nurse"]
    assert page.items[0]["similarity"] == pytest.approx(1.0)
    assert [m["content"] for m in newest.items] == ["User: hi\nIdris: hello"]
    assert "similarity" not in newest.items[0]
    assert embedder.calls == [("query", ("where do I work?",))]
    assert configured.calls == []


@pytest.mark.django_db
def test_memory_list_raises_a_plain_upstream_error_when_the_embedder_fails(alice, alice_memories):
    from rest_framework.exceptions import APIException

    from eros.errors import Upstream

    embedder = FakeEmbedder()
    embedder.fail_next()
    with pytest.raises(Upstream) as raised:
        memory_list(user_id=alice, q="work", embedder=embedder)
    assert not isinstance(raised.value, APIException)
    assert raised.value.message == "the embeddings provider failed; please retry"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"layer": "dreams"},
        {"category": "opinion"},
        {"instance_id": "not-a-uuid"},
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
    ],
)
def test_bad_filters_are_400_validation_errors(client_for, alice, params):
    response = client_for(alice).get(url(alice), params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error" and set(body["details"]) == set(params)


@pytest.mark.django_db
def test_deleting_a_memory_forgets_it_for_good(client_for, alice, alice_memories):
    client = client_for(alice)
    memory = alice_memories["lighthouse"]
    response = client.delete(url(alice, f"memories/{memory.id}"))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(memory.id) and body["deleted_at"].endswith("Z")
    assert str(memory.id) not in [m["id"] for m in client.get(url(alice)).json()["memories"]]
    recall = memory_recall(
        user_id=alice,
        instance_id=memory.instance_id,
        query_vector=unit_vector(4),
        query_text="the lighthouse",
        now=timezone.now(),
    )
    assert recall.relationship == []
    # Content and vector are gone from the table itself, not only hidden.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM companion_memories WHERE id = %s OR content LIKE %s",
            [memory.id, "%lighthouse%"],
        )
        assert cursor.fetchone()[0] == 0
    # Nothing is left to restore, and forgetting twice finds nothing.
    assert memory_restore(memory_id=memory.id) is False
    again = client.delete(url(alice, f"memories/{memory.id}"))
    assert again.status_code == 404 and again.json()["error"] == "not_found"
    assert CompanionMemory.objects.filter(user_id=alice).count() == 5


@pytest.mark.django_db
def test_deleting_an_operator_soft_deleted_memory_forgets_it_for_good(
    client_for, alice, alice_memories
):
    memory = alice_memories["deleted"]
    response = client_for(alice).delete(url(alice, f"memories/{memory.id}"))
    assert response.status_code == 200
    assert not CompanionMemory.objects.filter(id=memory.id).exists()
    assert memory_restore(memory_id=memory.id) is False


@pytest.mark.django_db
def test_deleting_someone_elses_or_an_unknown_memory_is_404(client_for, alice, bob, alice_memories):
    bobs = ChatSession.objects.create(user_id=bob, instance_id=uuid.uuid4())
    theirs = CompanionMemory.objects.create(
        session=bobs, user_id=bob, content="bob's", embedding=unit_vector(1)
    )
    client = client_for(alice)
    for memory_id in (theirs.id, uuid.uuid4()):
        response = client.delete(url(alice, f"memories/{memory_id}"))
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.deleted_at is None


def _everything_of(user_id, genome):
    instance = PersonaInstance.objects.create(genome=genome, owner_uid=user_id)
    session = ChatSession.objects.create(user_id=user_id, instance_id=instance.id)
    ChatMessage.objects.bulk_create(
        [ChatMessage(session=session, role="user", content=f"message {i}") for i in range(3)]
    )
    affinity = CompanionAffinity.objects.create(
        session=session, user_id=user_id, instance_id=instance.id
    )
    CompanionAffinityEvent.objects.create(affinity=affinity, event_type="message")
    CompanionAffinityEvent.objects.create(affinity=affinity, event_type="gift")
    for layer_instance in (None, instance.id):
        CompanionMemory.objects.create(
            session=session,
            user_id=user_id,
            instance_id=layer_instance,
            content="something",
            embedding=unit_vector(1),
        )
    CompanionInsights.objects.create(user_id=user_id, insights={"city": "Lisbon"})


@pytest.mark.django_db
def test_erasing_user_data_removes_everything_about_them_and_nothing_else(
    client_for, alice, bob, personas
):
    genome = next(iter(personas.values()))
    _everything_of(alice, genome)
    _everything_of(bob, genome)
    response = client_for(alice).delete(url(alice, "data"))
    assert response.status_code == 200
    assert response.json() == {
        "user_id": str(alice),
        "erased": {
            "sessions": 1,
            "messages": 3,
            "affinity": 1,
            "affinity_events": 2,
            "memories": 2,
            "insights": 1,
            "persona_instances": 1,
        },
    }
    for model, column in (
        (ChatSession, "user_id"),
        (CompanionAffinity, "user_id"),
        (CompanionMemory, "user_id"),
        (CompanionInsights, "user_id"),
        (PersonaInstance, "owner_uid"),
    ):
        assert not model.objects.filter(**{column: alice}).exists()
        assert model.objects.filter(**{column: bob}).exists()
    assert ChatMessage.objects.count() == 3
    assert CompanionAffinityEvent.objects.count() == 2
    again = client_for(alice).delete(url(alice, "data"))
    assert again.status_code == 200
    assert set(again.json()["erased"].values()) == {0}


@pytest.mark.django_db
def test_the_routes_are_in_the_openapi_document(client):
    document = client.get("/api-docs/openapi.json").json()
    listing = document["paths"]["/comp/user/{user_id}/memories"]["get"]
    assert listing["operationId"] == "memories_list"
    assert {p["name"] for p in listing["parameters"]} == {
        "user_id",
        "layer",
        "instance_id",
        "category",
        "q",
        "limit",
        "offset",
        "include_superseded",
    }
    assert {"401", "403", "400"} <= set(listing["responses"])
    assert (
        document["paths"]["/comp/user/{user_id}/memories/{memory_id}"]["delete"]["operationId"]
        == "memories_delete"
    )
    detail = document["paths"]["/comp/user/{user_id}/memories/{memory_id}"]
    assert detail["patch"]["operationId"] == "memories_update"
    assert {"400", "403", "404", "502"} <= set(detail["patch"]["responses"])
    create = document["paths"]["/comp/user/{user_id}/memories"]["post"]
    assert create["operationId"] == "memories_create"
    assert {"201", "400", "403", "502"} <= set(create["responses"])
    create_body = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    create_fields = document["components"]["schemas"][create_body.rsplit("/", 1)[1]]["properties"]
    assert set(create_fields) == {"content", "layer", "instance_id", "category", "importance"}
    assert document["paths"]["/comp/user/{user_id}/data"]["delete"]["operationId"] == (
        "user_data_erase"
    )
    memory = document["components"]["schemas"]["Memory"]["properties"]
    assert "embedding" not in memory and "content_tsv" not in memory
    assert "erased" in document["components"]["schemas"]["UserDataEraseOutput"]["properties"]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["q=", "category=", "instance_id=", "offset=", "limit="])
def test_an_empty_query_parameter_is_400_not_ignored(client_for, alice, query):
    response = client_for(alice).get(url(alice) + "?" + query)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert query.rstrip("=") in body["details"]
