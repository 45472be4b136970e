"""``POST /comp/chat/{session_id}/regenerate``: one reply left, post-process once, clean 4xx."""

from __future__ import annotations

import json
import uuid

import pytest

from companions.models import ChatMessage, CompanionAffinityEvent
from companions.services.chat_pipeline import turn_begin, typing_delay_ms
from companions.services.regenerate import MAX_TEMPERATURE, TEMPERATURE_STEP
from companions.tasks import post_process_turn
from eros.llm.base import TASK_AFFINITY, TASK_CHAT, TASK_INSIGHT, ChatRequest, ProviderError
from eros.llm.fakes import FakeChatModel, FakeEmbedder
from eros.llm.offline import OfflineChatModel
from insights.models import CompanionInsights
from memory.models import CompanionMemory
from personas.models import PersonaInstance
from tests.api import assert_error
from tests.companions.test_post_process import enqueue_only
from tests.prompts import insight_step

USER_TEXT = "I live in Porto and I love surfing before work"
INSIGHTS = {
    "facts": json.dumps({"facts": ["lives in Porto", "likes surfing"]}),
    "structure": json.dumps({"city": "Porto", "interests": ["surfing"]}),
}


def scripted(*chat_replies: str, during_chat=None) -> FakeChatModel:
    """Chat replies in order (the last repeats); fixed answers for the post-process tasks.

    ``during_chat(n)`` runs before the n-th chat reply is returned (1-based).
    """
    replies = list(chat_replies)
    chats = []

    def answer(request: ChatRequest) -> str:
        if request.task == TASK_CHAT:
            chats.append(request)
            if during_chat is not None:
                during_chat(len(chats))
            return replies[min(len(chats), len(replies)) - 1]
        if request.task == TASK_AFFINITY:
            return '{"warmth": 0.1, "reason": "kind words"}'
        if request.task == TASK_INSIGHT:
            return INSIGHTS[insight_step(request)]
        raise ProviderError(f"no answer for {request.task}", retryable=False)

    return FakeChatModel(answer)


@pytest.fixture
def embedder(settings) -> FakeEmbedder:
    settings.EROS_EMBEDDER = FakeEmbedder()
    return settings.EROS_EMBEDDER


def _send(client, session, text=USER_TEXT) -> dict:
    response = client.post(f"/comp/chat/{session.id}/message", {"message": text}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _regenerate(client, session, body=None):
    return client.post(f"/comp/chat/{session.id}/regenerate", body or {}, format="json")


def _chat_requests(model: FakeChatModel) -> list[ChatRequest]:
    return [r for r in model.requests if r.task == TASK_CHAT]


# --- the new reply ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_regenerate_replaces_the_last_reply_and_history_shows_only_the_new_one(
    alice_session, client_for, alice, settings, embedder
):
    settings.EROS_CHAT_MODEL = scripted("Porto! Lovely.", "Surfing before work? Brave.")
    client = client_for(alice)
    first = _send(client, alice_session)
    first_model = ChatMessage.objects.get(id=first["message_id"]).context["model"]

    response = _regenerate(client, alice_session)

    assert response.status_code == 200, response.content
    body = response.json()
    new_reply = ChatMessage.objects.get(session=alice_session, role="assistant")
    assert body == {
        "reply": "Surfing before work? Brave.",
        "ghosted": False,
        "message_id": str(new_reply.id),
        "user_message_id": first["user_message_id"],
        "session_id": str(alice_session.id),
        "lead_score": body["lead_score"],
        "should_show_cta": False,
        "typing_delay_ms": typing_delay_ms(uuid.UUID(first["user_message_id"])),
        "agent_training_level": body["agent_training_level"],
    }
    assert body["message_id"] != first["message_id"]
    assert not ChatMessage.objects.filter(id=first["message_id"]).exists()
    assert str(new_reply.reply_to_id) == first["user_message_id"]
    assert new_reply.context["replaced"] == [
        {"id": first["message_id"], "content": "Porto! Lovely.", "model": first_model}
    ]
    history = client.get(f"/comp/chat/{alice_session.id}/history").json()
    assert [(m["role"], m["content"]) for m in history["messages"]] == [
        ("user", USER_TEXT),
        ("assistant", "Surfing before work? Brave."),
    ]
    user_message = ChatMessage.objects.get(id=first["user_message_id"])
    assert user_message.turn_status == "replied"


@pytest.mark.django_db
def test_the_new_request_asks_for_variation_without_the_old_reply_in_its_history(
    alice_session, client_for, alice, settings, embedder
):
    model = scripted("first words", "second words")
    settings.EROS_CHAT_MODEL = model
    client = client_for(alice)
    _send(client, alice_session)

    _regenerate(client, alice_session, {"memory_scope": "none", "affinity_scope": "full"})

    original, again = _chat_requests(model)
    assert again.temperature == pytest.approx(
        min(MAX_TEMPERATURE, original.temperature + TEMPERATURE_STEP)
    )
    assert original.context.variation == 0 and again.context.variation == 1
    assert [(m.role, m.content) for m in again.messages[1:]] == [("user", USER_TEXT)]
    assert again.messages[0].role == "system"
    assert "## Your mood right now" in again.messages[0].content


@pytest.mark.django_db
def test_a_reply_repeating_the_old_words_is_asked_for_again(
    alice_session, client_for, alice, settings, embedder
):
    model = scripted("same old", "same old", "fresh words")
    settings.EROS_CHAT_MODEL = model
    client = client_for(alice)
    _send(client, alice_session)

    body = _regenerate(client, alice_session).json()

    assert body["reply"] == "fresh words"
    variations = [r.context.variation for r in _chat_requests(model)]
    assert variations == [0, 1, 2]
    assert ChatMessage.objects.get(id=body["message_id"]).context["regenerate_attempts"] == 2


@pytest.mark.django_db
def test_the_offline_model_words_each_regenerated_reply_differently(
    alice_session, client_for, alice, settings, embedder
):
    settings.EROS_CHAT_MODEL = OfflineChatModel()
    client = client_for(alice)
    replies = [_send(client, alice_session, "hey, how was your day?")["reply"]]

    for _ in range(2):
        response = _regenerate(client, alice_session)
        assert response.status_code == 200, response.content
        replies.append(response.json()["reply"])

    assert len(set(replies)) == 3, replies
    assert ChatMessage.objects.filter(session=alice_session, role="assistant").count() == 1


# --- post-process once ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_post_process_stays_once_per_user_message_across_regenerates(
    alice_session, client_for, alice, settings, embedder
):
    model = scripted("Porto! Lovely.", "Surfing before work? Brave.", "Dawn patrol, then?")
    settings.EROS_CHAT_MODEL = model
    client = client_for(alice)
    first = _send(client, alice_session)  # django-q2 sync mode: post-process runs here
    insight_calls = sum(r.task == TASK_INSIGHT for r in model.requests)
    user_message = ChatMessage.objects.get(id=first["user_message_id"])
    assert insight_calls == 2 and user_message.extracted_facts == {
        "city": "Porto",
        "interests": ["surfing"],
    }

    _regenerate(client, alice_session)
    last = _regenerate(client, alice_session).json()

    (event,) = CompanionAffinityEvent.objects.filter(affinity__session=alice_session)
    assert event.event_type == "message" and event.context["source"] == "llm"
    assert sum(r.task == TASK_AFFINITY for r in model.requests) == 1
    assert sum(r.task == TASK_INSIGHT for r in model.requests) == insight_calls
    assert CompanionInsights.objects.get(user_id=alice).insights == {
        "city": "Porto",
        "interests": ["surfing"],
    }
    # The turn's memories are its facts, written once; they cite the reply that now stands.
    memories = CompanionMemory.objects.filter(session=alice_session).order_by("content")
    assert [(m.content, m.instance_id) for m in memories] == [
        ("Likes surfing", None),
        ("Lives in Porto", None),
    ]
    for memory in memories:
        assert memory.source_message_ids == [user_message.id, uuid.UUID(last["message_id"])]
    assert embedder.embedded_texts.count("Lives in Porto") == 1  # embedded once


@pytest.mark.django_db(transaction=True)
def test_a_reply_regenerated_before_its_post_process_ran_is_post_processed_once_as_new(
    alice_session, client_for, alice, settings, embedder
):
    model = scripted("Porto! Lovely.", "Surfing before work? Brave.")
    settings.EROS_CHAT_MODEL = model
    client = client_for(alice)
    with enqueue_only():  # the first reply's post-process waits in the broker
        first = _send(client, alice_session)

    body = _regenerate(client, alice_session).json()  # sync: its post-process runs now
    post_process_turn(first["user_message_id"])  # then the waiting task is delivered

    assert CompanionAffinityEvent.objects.filter(affinity__session=alice_session).count() == 1
    assert sum(r.task == TASK_INSIGHT for r in model.requests) == 2
    memories = CompanionMemory.objects.filter(session=alice_session)
    assert sorted(m.content for m in memories) == ["Likes surfing", "Lives in Porto"]
    for memory in memories:
        assert uuid.UUID(body["message_id"]) in memory.source_message_ids


# --- nothing to regenerate, and other errors --------------------------------------------------


def _replied(session, client):
    _send(client, session)


def _ghosted(session, client):
    ChatMessage.objects.create(session=session, role="user", content="...", turn_status="ghosted")


def _failed(session, client):
    ChatMessage.objects.create(session=session, role="user", content="hm", turn_status="failed")


def _pending(session, client):
    _send(client, session)
    turn_begin(session=session, content="and another thing")


def _gift_after(session, client):
    _send(client, session)
    response = client.post(
        f"/comp/chat/{session.id}/event/gift", {"deltas": {"warmth": 0.2}}, format="json"
    )
    assert response.status_code == 200, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setup", "turn_status"),
    [
        (None, None),
        (_ghosted, "ghosted"),
        (_failed, "failed"),
        (_pending, "pending"),
        (_gift_after, "replied"),
    ],
    ids=["no-message", "ghosted", "failed", "pending", "gift-after-reply"],
)
def test_nothing_to_regenerate_is_409_and_changes_nothing(
    alice_session, client_for, alice, settings, embedder, setup, turn_status
):
    model = scripted("a reply")
    settings.EROS_CHAT_MODEL = model
    client = client_for(alice)
    if setup is not None:
        setup(alice_session, client)
    before = list(ChatMessage.objects.order_by("sent_at").values_list("id", "content"))
    calls = model.calls

    body = assert_error(_regenerate(client, alice_session), 409, "conflict")

    assert body["message"].startswith("nothing to regenerate")
    assert body["details"]["turn_status"] == turn_status
    assert list(ChatMessage.objects.order_by("sent_at").values_list("id", "content")) == before
    assert model.calls == calls


@pytest.mark.django_db
def test_a_greeting_alone_is_not_regenerated(personas, client_for, alice):
    client = client_for(alice)
    started = client.post(
        "/comp/chat/start", {"genome_id": str(personas["Juno"].id)}, format="json"
    ).json()

    response = client.post(f"/comp/chat/{started['session_id']}/regenerate", format="json")

    assert_error(response, 409, "conflict")
    assert ChatMessage.objects.filter(session_id=started["session_id"]).count() == 1


@pytest.mark.django_db
def test_unknown_and_foreign_sessions_and_bad_scopes_are_refused(
    alice_session, client_for, alice, bob, settings, embedder
):
    settings.EROS_CHAT_MODEL = scripted("a reply")
    _send(client_for(alice), alice_session)

    assert_error(
        client_for(bob).post(f"/comp/chat/{alice_session.id}/regenerate"), 403, "forbidden"
    )
    assert_error(client_for(alice).post(f"/comp/chat/{uuid.uuid4()}/regenerate"), 404, "not_found")
    assert_error(
        client_for(None).post(f"/comp/chat/{alice_session.id}/regenerate"), 401, "unauthorized"
    )
    body = assert_error(
        _regenerate(client_for(alice), alice_session, {"memory_scope": "everything"}),
        400,
        "validation_error",
    )
    assert "memory_scope" in body["details"]
    PersonaInstance.objects.filter(id=alice_session.instance_id).update(status="archived")
    assert_error(_regenerate(client_for(alice), alice_session), 404, "not_found")
    assert ChatMessage.objects.get(session=alice_session, role="assistant").content == "a reply"


@pytest.mark.django_db
def test_a_provider_failure_is_502_and_keeps_the_old_reply(
    alice_session, client_for, alice, settings, embedder
):
    model = scripted("the reply to keep")
    settings.EROS_CHAT_MODEL = model
    client = client_for(alice)
    first = _send(client, alice_session)
    model.fail_next(ProviderError("upstream 503", retryable=True, status=503))

    assert_error(_regenerate(client, alice_session), 502, "upstream_error")

    reply = ChatMessage.objects.get(session=alice_session, role="assistant")
    assert (str(reply.id), reply.content) == (first["message_id"], "the reply to keep")
    assert ChatMessage.objects.get(id=first["user_message_id"]).turn_status == "replied"
    error = ChatMessage.objects.get(session=alice_session, role="system_error")
    assert error.content.startswith("regenerate failed") and error.context == {"regenerate": True}
    history = client.get(f"/comp/chat/{alice_session.id}/history").json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]


@pytest.mark.django_db
def test_a_message_sent_while_the_reply_is_regenerated_wins(
    alice_session, client_for, alice, settings, embedder
):
    def user_writes_meanwhile(chat_call: int) -> None:
        if chat_call == 2:
            turn_begin(session=alice_session, content="actually, never mind")

    settings.EROS_CHAT_MODEL = scripted("kept", "dropped", during_chat=user_writes_meanwhile)
    client = client_for(alice)
    first = _send(client, alice_session)

    body = assert_error(_regenerate(client, alice_session), 409, "conflict")

    assert "moved on" in body["message"]
    replies = ChatMessage.objects.filter(session=alice_session, role="assistant")
    assert [(str(r.id), r.content) for r in replies] == [(first["message_id"], "kept")]


@pytest.mark.django_db
def test_the_openapi_document_describes_regenerate(client_for):
    document = client_for(None).get("/api-docs/openapi.json").json()

    operation = document["paths"]["/comp/chat/{session_id}/regenerate"]["post"]

    assert operation["operationId"] == "chat_regenerate"
    assert {"200", "403", "404", "409", "502"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert set(schema["properties"]) == {"memory_scope", "affinity_scope"}
