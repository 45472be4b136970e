"""One-line model choice: ``LLM_MODEL`` (and ``LLM_MODEL_<TASK>``) reach every task's request.

A chat turn through the HTTP API (``chat_companion``), its post-process (``affinity_evaluation``,
``insight_extraction``) and a dreaming pass (``memory_extraction``) all call an
OpenAI-compatible server on 127.0.0.1 (``LLM_BASE_URL``), which records the ``model`` of every
request, as Ollama would see it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from companions.models import CompanionAffinityEvent
from companions.services.dreaming import dreaming_sweep_one
from memory.models import CompanionMemory
from tests.openai_stub import OpenAIStub

NO_TASK_MODELS = {
    "chat_companion": "",
    "affinity_evaluation": "",
    "insight_extraction": "",
    "memory_extraction": "",
}


def task_of(body: dict[str, Any]) -> str:
    """Which eros task sent this request, told from its prompt (the model name is under test)."""
    messages = body["messages"]
    prompt = messages[-1]["content"]
    if messages[0]["role"] == "system":
        return "chat_companion"
    if prompt.startswith("You judge how one exchange"):
        return "affinity_evaluation"
    if prompt.startswith("This conversation has paused"):
        return "memory_extraction"
    return "insight_extraction"


def answer(body: dict[str, Any]) -> str:
    """A local model that answers each task in the shape eros asks for."""
    task, prompt = task_of(body), body["messages"][-1]["content"]
    if task == "chat_companion":
        return "Porto! Tell me about the river."
    if task == "affinity_evaluation":
        return json.dumps({"warmth": 0.1, "trust": 0.05, "reason": "shared news"})
    if task == "memory_extraction":
        return json.dumps({"memories": [{"content": "Moved to Porto", "category": "event"}]})
    if prompt.startswith("List new facts"):
        return json.dumps({"facts": ["lives in Porto"]})
    return json.dumps({"city": "Porto"})


@pytest.fixture
def local_server(settings):
    """Chat through the stub server (as for Ollama: a base URL, no key); local embeddings."""
    with OpenAIStub(answer=answer) as stub:
        settings.CHAT_PROVIDER = "auto"
        settings.OPENROUTER_API_KEY = ""
        settings.LLM_API_KEY = ""
        settings.LLM_BASE_URL = stub.url
        settings.EMBEDDINGS_PROVIDER = "local"
        settings.EROS_CHAT_MODEL = None
        settings.EROS_EMBEDDER = None
        settings.LLM_MODEL = ""
        settings.LLM_FALLBACK_MODEL = ""
        settings.LLM_TASK_MODELS = dict(NO_TASK_MODELS)
        yield stub


def run_every_task(client, session) -> None:
    response = client.post(
        f"/comp/chat/{session.id}/message",
        {"message": "I just moved to Porto for a new job."},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["reply"] == "Porto! Tell me about the river."
    outcome = dreaming_sweep_one(now=timezone.now() + timedelta(hours=2))
    assert outcome is not None and outcome.status == "distilled", outcome


def models_by_task(stub: OpenAIStub) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for body in stub.bodies("/v1/chat/completions"):
        seen.setdefault(task_of(body), set()).add(body["model"])
    return seen


@pytest.mark.django_db(transaction=True)
def test_llm_model_reaches_every_task(local_server, settings, alice_session, client_for, alice):
    settings.LLM_MODEL = "llama3.1"

    run_every_task(client_for(alice), alice_session)

    assert models_by_task(local_server) == {
        "chat_companion": {"llama3.1"},
        "affinity_evaluation": {"llama3.1"},
        "insight_extraction": {"llama3.1"},
        "memory_extraction": {"llama3.1"},
    }
    # Each task's answer was used, so each request really came from that task.
    event = CompanionAffinityEvent.objects.get(affinity__session=alice_session)
    assert event.context["source"] == "llm" and event.context["model"] == "llama3.1"
    assert CompanionMemory.objects.filter(content="Moved to Porto", category="event").exists()


@pytest.mark.django_db(transaction=True)
def test_a_task_model_overrides_llm_model_for_that_task(
    local_server, settings, alice_session, client_for, alice
):
    settings.LLM_MODEL = "llama3.1"
    settings.LLM_TASK_MODELS = {**NO_TASK_MODELS, "memory_extraction": "qwen2.5:14b"}

    run_every_task(client_for(alice), alice_session)

    seen = models_by_task(local_server)
    assert seen.pop("memory_extraction") == {"qwen2.5:14b"}
    assert seen == {
        "chat_companion": {"llama3.1"},
        "affinity_evaluation": {"llama3.1"},
        "insight_extraction": {"llama3.1"},
    }


@pytest.mark.django_db(transaction=True)
def test_llm_model_leaves_no_openrouter_fallback_and_llm_fallback_model_is_tried(
    settings, alice_session, client_for, alice
):
    """A local server that fails: without LLM_FALLBACK_MODEL the file's fallback slugs are not
    sent; with it, that model is tried after the primary."""

    def failing_primary(body: dict[str, Any]) -> str:
        if body["model"] == "llama3.1":
            raise RuntimeError("model not loaded")
        return answer(body)

    with OpenAIStub(answer=failing_primary) as stub:
        settings.CHAT_PROVIDER = "auto"
        settings.LLM_BASE_URL = stub.url
        settings.EROS_CHAT_MODEL = None
        settings.EMBEDDINGS_PROVIDER = "local"
        settings.EROS_EMBEDDER = None
        settings.LLM_MODEL = "llama3.1"
        settings.LLM_TASK_MODELS = dict(NO_TASK_MODELS)
        settings.LLM_FALLBACK_MODEL = ""
        client = client_for(alice)
        failed = client.post(
            f"/comp/chat/{alice_session.id}/message", {"message": "Hello?"}, format="json"
        )
        assert failed.status_code == 502, failed.content
        assert {b["model"] for b in stub.bodies("/v1/chat/completions")} == {"llama3.1"}

        settings.LLM_FALLBACK_MODEL = "llama3.2:1b"
        replied = client.post(
            f"/comp/chat/{alice_session.id}/message", {"message": "Hello again?"}, format="json"
        )
        assert replied.status_code == 200, replied.content
        assert stub.bodies("/v1/chat/completions")[-1]["model"] == "llama3.2:1b"
