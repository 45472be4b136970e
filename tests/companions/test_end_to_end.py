"""The whole engine over real sockets: uvicorn, a django-q2 worker (``manage.py qcluster``) and
an OpenAI-compatible model server, all on 127.0.0.1, against the test database.

A scripted two-turn exchange goes in through the HTTP API; the worker's post-process must
leave LLM-evaluated affinity events, schema-checked merged insights, the lead score and the
turn's memories, all computed from the stub server's answers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from companions.models import ChatMessage, ChatSession, CompanionAffinityEvent
from eros.llm.embeddings_local import LocalEmbedder
from insights.models import CompanionInsights
from memory.models import CompanionMemory
from tests.conftest import token_for
from tests.live import free_port, test_database_url
from tests.openai_stub import OpenAIStub

ROOT = Path(__file__).resolve().parents[2]

ROUTING = """
[tasks.chat_companion]
model = "stub-chat"
[tasks.affinity_evaluation]
model = "stub-affinity"
[tasks.insight_extraction]
model = "stub-insight"
[tasks.memory_extraction]
model = "stub-memory"
"""

EXCHANGE = [
    {
        "user": "Hi! I just moved to Porto and I work as a nurse.",
        "reply": "Porto suits you. Night shifts?",
        "evaluation": {"warmth": 0.12, "trust": 0.05, "intrigue": 0.3, "reason": "new city"},
    },
    {
        "user": "I love surfing at dawn before my shifts.",
        "reply": "Dawn surf and night shifts, you never sleep.",
        "evaluation": {"warmth": 0.08, "intimacy": 0.04, "tension": -0.02, "reason": "sharing"},
    },
]
# What the stub's "insight model" reads out of each user message, then how it structures it.
FACTS = {
    "Porto": ["lives in Porto", "works as a nurse"],
    "surfing": ["likes surfing at dawn"],
}
# ... and the moment worth a callback it finds, if any.
MOMENTS = {"surfing": "Shared the thrill of catching a dawn wave"}
FIELDS = {
    "lives in Porto": {"city": "Porto", "favourite_city": "Porto"},
    "works as a nurse": {"occupation": "nurse", "salary": 3000},
    "likes surfing at dawn": {"interests": ["surfing"], "mbti_guess": 7},
}


def stub_answer(body: dict[str, Any]) -> str:
    """The stub's models: routed by model name, like a real server would be."""
    model, prompt = body["model"], body["messages"][-1]["content"]
    if model == "stub-chat":
        last_user = body["messages"][-1]["content"]
        return next(t["reply"] for t in EXCHANGE if t["user"] == last_user)
    if model == "stub-affinity":
        turn = next(t for t in EXCHANGE if t["user"] in prompt)
        return "Here you go:\n" + json.dumps(turn["evaluation"])
    if model == "stub-insight":
        if "\nFacts:\n" not in prompt:
            said = json.loads(re.search(r'^User: (".*")$', prompt, re.M).group(1))
            facts = next(f for key, f in FACTS.items() if key in said)
            moment = next((m for key, m in MOMENTS.items() if key in said), "")
            return json.dumps({"facts": facts, "moment": moment})
        listed = re.findall(r"^- (.+)$", prompt.split("Current profile:")[0], re.M)
        fields: dict[str, Any] = {}
        for fact in listed:
            fields.update(FIELDS.get(fact, {}))
        return json.dumps(fields)
    raise AssertionError(f"unexpected model {model}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # the cluster's main process stops its children
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _wait_for(check, *, timeout_s: float, what: str, procs: list[subprocess.Popen]):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc in procs:
            assert proc.poll() is None, f"{proc.args} exited while waiting for {what}"
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_web_and_worker_post_process_a_scripted_exchange_with_a_real_model_server(
    personas, alice, tmp_path
):
    routing = tmp_path / "model_config.toml"
    routing.write_text(ROUTING)
    local = LocalEmbedder()
    with OpenAIStub(answer=stub_answer, embed=local.embed) as stub:
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CHAT_PROVIDER": "auto",
            "EMBEDDINGS_PROVIDER": "auto",
            "LLM_BASE_URL": stub.url,
            "LLM_API_KEY": "stub-chat-key",
            "EMBEDDINGS_BASE_URL": stub.url,
            "EMBEDDINGS_MODEL": "stub-embed",
            "MODEL_CONFIG_PATH": str(routing),
            "DREAMING_DISABLED": "true",
            "Q_WORKERS": "1",
            "Q_POLL_S": "0.1",
        }
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        common = {"cwd": ROOT, "env": env, "start_new_session": True}
        web = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "eros.asgi:application", "--host", "127.0.0.1"]
            + ["--port", str(port), "--lifespan", "off", "--log-level", "warning"],
            **common,
        )
        worker = subprocess.Popen([sys.executable, "manage.py", "qcluster"], **common)
        procs = [web, worker]
        try:
            health = _wait_for(
                lambda: _health(base), timeout_s=60, what="the web server", procs=procs
            )
            assert health["providers"] == {"chat": "openai", "embeddings": "openai"}

            headers = {"Authorization": f"Bearer {token_for(alice)}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                genome = personas["Juno"]
                started = client.post("/comp/chat/start", json={"genome_id": str(genome.id)})
                assert started.status_code == 200, started.text
                session_id = started.json()["session_id"]
                bodies = []
                for turn in EXCHANGE:
                    response = client.post(
                        f"/comp/chat/{session_id}/message", json={"message": turn["user"]}
                    )
                    assert response.status_code == 200, response.text
                    bodies.append(response.json())
            assert [b["reply"] for b in bodies] == [t["reply"] for t in EXCHANGE]

            def settled():
                lead = ChatSession.objects.get(id=session_id).lead_score
                return (
                    CompanionAffinityEvent.objects.filter(affinity__session_id=session_id).count()
                    == 2
                    and CompanionMemory.objects.filter(session_id=session_id).count() == 4
                    and lead == pytest.approx(2.0)
                )

            _wait_for(settled, timeout_s=90, what="post-process in the worker", procs=procs)
        finally:
            for proc in procs:
                _stop(proc)

    session = ChatSession.objects.get(id=session_id)
    users = list(ChatMessage.objects.filter(session=session, role="user").order_by("sent_at"))
    replies = {
        m.reply_to_id: m for m in ChatMessage.objects.filter(session=session, role="assistant")
    }

    # Affinity: one LLM-evaluated event per turn, clamped to ±0.15, with the reason kept.
    events = {
        e.context["user_message_id"]: e
        for e in CompanionAffinityEvent.objects.filter(affinity__session=session)
    }
    for user, turn in zip(users, EXCHANGE, strict=True):
        event = events[str(user.id)]
        assert event.context["source"] == "llm"
        assert event.context["model"] == "stub-affinity"
        assert event.context["reason"] == turn["evaluation"]["reason"]
        for axis in ("warmth", "trust", "intrigue", "intimacy", "tension"):
            expected = max(-0.15, min(0.15, turn["evaluation"].get(axis, 0.0)))
            assert event.deltas[axis] == pytest.approx(expected)
    assert events[str(users[0].id)].deltas["intrigue"] == 0.15  # 0.3 clamped

    # Insights: merged across turns, only schema fields of the right type.
    insights = CompanionInsights.objects.get(user_id=alice)
    assert insights.insights == {"city": "Porto", "occupation": "nurse", "interests": ["surfing"]}
    assert insights.training_level == pytest.approx(0.2)
    assert session.lead_score == pytest.approx(2.0)

    # Memory: the facts each turn stated (profile layer) and the moment shared (relationship
    # layer), embedded by the stub's embeddings endpoint, citing the turn's messages.
    memories = CompanionMemory.objects.filter(session=session)
    expected = {
        ("Lives in Porto", None): users[0],
        ("Works as a nurse", None): users[0],
        ("Likes surfing at dawn", None): users[1],
        ("Shared the thrill of catching a dawn wave", session.instance_id): users[1],
    }
    assert {(m.content, m.instance_id) for m in memories} == set(expected)
    for memory in memories:
        user = expected[memory.content, memory.instance_id]
        assert memory.source_message_ids == [user.id, replies[user.id].id]
        assert list(memory.embedding) == pytest.approx(local.embed(memory.content), abs=1e-6)

    # The stub saw what a real provider would: the key, the routed models, 512-dim requests.
    chat_calls = stub.bodies("/v1/chat/completions")
    assert sorted({b["model"] for b in chat_calls}) == [
        "stub-affinity",
        "stub-chat",
        "stub-insight",
    ]
    assert all(
        h.get("Authorization") == "Bearer stub-chat-key"
        for p, h, _ in stub.requests
        if p.endswith("completions")
    )
    embedding_calls = stub.bodies("/v1/embeddings")
    assert embedding_calls and all(b["dimensions"] == 512 for b in embedding_calls)
    assert {b["model"] for b in embedding_calls} == {"stub-embed"}


def _health(base: str) -> dict | None:
    try:
        response = httpx.get(f"{base}/healthz", timeout=2)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None
