"""A provider's bad day through the API: a clean 502 that loses nothing, garbage that stores
nothing, and the query budget of the reply path (DESIGN §4, §5, §9 item 8)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import OrmQ

from companions.models import ChatMessage, CompanionAffinityEvent
from eros.llm.base import TASK_AFFINITY, TASK_CHAT, TASK_INSIGHT, ChatRequest
from eros.llm.chat import OpenAIChatModel
from eros.llm.fakes import FakeChatModel
from eros.llm.httpclient import RetryPolicy
from insights.models import CompanionInsights
from memory.models import CompanionMemory
from tests.llm.wire import Sleeps, Wire, status
from tests.prompts import insight_step

MAX_REPLY_PATH_QUERIES = 15


@pytest.mark.django_db(transaction=True)
def test_a_provider_failing_after_retries_and_fallback_is_a_502_that_keeps_the_message(
    alice_session, client_for, alice, settings
):
    wire = Wire([status(503, "overloaded")])
    settings.EROS_CHAT_MODEL = OpenAIChatModel(
        base_url="https://openrouter.ai/api/v1",
        api_key="sk",
        name="openrouter",
        retry=RetryPolicy(sleep=Sleeps()),
        transport=wire.transport,
    )

    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "are you there?"}, format="json"
    )

    assert response.status_code == 502
    assert response.json() == {
        "error": "upstream_error",
        "message": "the model provider failed; please retry",
    }
    # Primary model: first try and two retries; then the fallback model once.
    assert wire.models == ["x-ai/grok-4-fast"] * 3 + ["deepseek/deepseek-chat-v3.2"]
    user = ChatMessage.objects.get(session=alice_session, role="user")
    assert user.content == "are you there?" and user.turn_status == "failed"
    error = ChatMessage.objects.get(session=alice_session, role="system_error")
    assert error.reply_to_id == user.id
    assert error.content.startswith("reply failed: openrouter: HTTP 503")
    assert not ChatMessage.objects.filter(session=alice_session, role="assistant").exists()
    # No post-process for a turn without a reply.
    assert not CompanionAffinityEvent.objects.exists()
    assert not CompanionMemory.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_next_message_after_a_failure_is_answered(alice_session, client_for, alice, settings):
    settings.EROS_CHAT_MODEL = FakeChatModel(["back again"], fail_on=[1])
    client = client_for(alice)
    url = f"/comp/chat/{alice_session.id}/message"

    assert client.post(url, {"message": "hello?"}, format="json").status_code == 502
    response = client.post(url, {"message": "hello again"}, format="json")

    assert response.status_code == 200 and response.json()["reply"] == "back again"
    statuses = dict(ChatMessage.objects.filter(role="user").values_list("content", "turn_status"))
    assert statuses == {"hello?": "failed", "hello again": "replied"}


def garbage_model() -> FakeChatModel:
    """A chat model that replies to the user but answers evaluation and extraction badly."""
    answers = {
        TASK_CHAT: "Ha, tell me more.",
        TASK_AFFINITY: '{"warmth": "a lot", "trust": [1]}',
        TASK_INSIGHT: {
            "facts": json.dumps({"facts": ["lives in Porto"]}),
            "structure": json.dumps({"city": ["Porto"], "age": 31, "interests": "surf"}),
        },
    }

    def answer(request: ChatRequest) -> str:
        value = answers[request.task]
        return value[insight_step(request)] if isinstance(value, dict) else value

    return FakeChatModel(answer)


@pytest.mark.django_db(transaction=True)
def test_garbage_evaluation_and_extraction_store_nothing_invalid_and_the_turn_completes(
    alice_session, client_for, alice, settings
):
    settings.EROS_CHAT_MODEL = garbage_model()

    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message",
        {"message": "I moved to Porto last spring"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["reply"] == "Ha, tell me more."
    user = ChatMessage.objects.get(session=alice_session, role="user")
    assert user.turn_status == "replied"
    (event,) = CompanionAffinityEvent.objects.filter(affinity__session=alice_session)
    assert event.context["source"] == "rules"
    assert event.context["fallback_reason"].startswith("ValidationError")
    assert not CompanionInsights.objects.filter(user_id=alice).exists()
    # The fact is remembered even though its profile fields were garbage; no raw line is.
    (memory,) = CompanionMemory.objects.filter(session=alice_session)
    assert (memory.content, memory.instance_id, memory.slot) == ("Lives in Porto", None, "city")


@pytest.mark.django_db(transaction=True)
def test_the_reply_path_runs_at_most_15_queries_and_only_enqueues_post_process(
    alice_session, client_for, alice, monkeypatch, settings
):
    """Counted as ``manage.py benchmark turn`` counts: every SQL statement the request
    executes, seen by the query-count middleware (transaction control is not a query)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)  # post-process waits in the broker
    settings.MIDDLEWARE = ["eros.middleware.QueryCountMiddleware", *settings.MIDDLEWARE]
    client = client_for(alice)
    url = f"/comp/chat/{alice_session.id}/message"
    client.post(url, {"message": "Hi! I live in Lisbon."}, format="json")  # creates affinity

    counts = []
    for text in ("My dog is called Biscuit.", "Do you remember my dog?"):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(url, {"message": text}, format="json")
        assert response.status_code == 200 and response.json()["reply"]
        statements = [q["sql"] for q in captured.captured_queries]
        counted = int(response["X-Eros-Queries"])
        assert counted == len([s for s in statements if s not in ("BEGIN", "COMMIT")])
        counts.append(counted)

    assert max(counts) <= MAX_REPLY_PATH_QUERIES, counts
    assert OrmQ.objects.count() == 3  # one post-process task per turn, none run yet
    assert not CompanionAffinityEvent.objects.exists()
    assert not CompanionMemory.objects.exists()
