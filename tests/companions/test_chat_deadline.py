"""A chat turn ends within ``LLM_DEADLINE_S`` against providers that trickle their answers.

The providers are the real HTTP clients chosen by settings, pointed at a server on 127.0.0.1
that sends one byte every 0.3 s (so read timeouts never fire). With ``LLM_DEADLINE_S=1`` a
turn ends in about a second as 502 ``upstream_error``, ``failed``, with one ``system_error``
row, never stuck ``pending``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from companions.models import ChatMessage
from tests.api import assert_error
from tests.trickle_stub import TrickleStub

ROOT = Path(__file__).resolve().parents[2]
LATE_S = 2.5  # a 1 s budget plus the turn's own database work, on a busy 2-core machine


@pytest.fixture
def trickling(settings):
    """Chat (and, when asked, embeddings) from a trickling server, LLM_DEADLINE_S=1."""
    with TrickleStub() as stub:
        settings.EROS_CHAT_MODEL = None
        settings.EROS_EMBEDDER = None
        settings.CHAT_PROVIDER = "openai"
        settings.LLM_BASE_URL = stub.url
        settings.LLM_TIMEOUT_S = 60.0
        settings.LLM_DEADLINE_S = 1.0
        settings.EMBEDDINGS_PROVIDER = "local"
        yield stub


def _outcome(message_id) -> tuple[str, int, int]:
    rows = ChatMessage.objects.filter(reply_to_id=message_id)
    return (
        ChatMessage.objects.get(id=message_id).turn_status,
        rows.filter(role="system_error").count(),
        rows.filter(role="assistant").count(),
    )


@pytest.mark.django_db
def test_a_trickling_chat_model_ends_the_turn_as_a_502_within_the_deadline(
    alice_session, client_for, alice, trickling
):
    started = time.monotonic()
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hi"}, format="json"
    )
    elapsed = time.monotonic() - started

    assert_error(response, 502, "upstream_error")
    assert 0.95 <= elapsed < LATE_S
    # The primary model, then the fallback with the share of the budget kept for it.
    assert trickling.models == ["x-ai/grok-4-fast", "deepseek/deepseek-chat-v3.2"]
    message = ChatMessage.objects.get(session=alice_session, role="user")
    assert _outcome(message.id) == ("failed", 1, 0)
    assert "deadline" in ChatMessage.objects.get(reply_to_id=message.id).content


@pytest.mark.django_db(transaction=True)
def test_an_async_turn_against_a_trickling_model_reports_error_not_processing(
    alice_session, client_for, alice, trickling
):
    client = client_for(alice)
    started = time.monotonic()
    # django-q2 runs in sync mode here: the queued turn runs when the message commits.
    response = client.post(
        f"/comp/chat/{alice_session.id}/message_async", {"message": "hi"}, format="json"
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 202, response.content
    message_id = response.json()["user_message_id"]

    polled = client.get(f"/comp/chat/{alice_session.id}/pending/{message_id}")

    assert polled.json() == {"status": "error", "message": None}
    assert _outcome(message_id) == ("failed", 1, 0)
    assert 0.95 <= elapsed < LATE_S


@pytest.mark.django_db
def test_a_turns_recall_embedding_and_chat_call_share_one_deadline(
    alice_session, client_for, alice, trickling, settings
):
    settings.EMBEDDINGS_PROVIDER = "openai"
    settings.EMBEDDINGS_BASE_URL = trickling.url
    settings.EMBEDDINGS_TIMEOUT_S = 60.0

    started = time.monotonic()
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hi"}, format="json"
    )
    elapsed = time.monotonic() - started

    assert_error(response, 502, "upstream_error")
    # Recall spent the turn's budget (and was skipped); the chat call then had none left.
    assert [s.path for s in trickling.seen] == ["/v1/embeddings"]
    assert 0.95 <= elapsed < LATE_S
    message = ChatMessage.objects.get(session=alice_session, role="user")
    assert _outcome(message.id) == ("failed", 1, 0)


def _settings_import(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "Q_", "TURN_"))}
    return subprocess.run(
        [sys.executable, "-c", "import eros.settings; print('ok')"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        (
            {"LLM_DEADLINE_S": "120"},
            "LLM_DEADLINE_S=120 must be below Q_TIMEOUT_S=120: a worker is stopped at "
            "Q_TIMEOUT_S, so a slower model call would strand its turn",
        ),
        (
            {"Q_TIMEOUT_S": "60"},
            "LLM_DEADLINE_S=90 must be below Q_TIMEOUT_S=60",
        ),
        (
            {"Q_RETRY_S": "120"},
            "Q_RETRY_S=120 must be above Q_TIMEOUT_S=120: a task would be delivered again",
        ),
        (
            {"TURN_STALE_AFTER_S": "100"},
            "TURN_STALE_AFTER_S=100 must be above Q_TIMEOUT_S=120",
        ),
    ],
    ids=["deadline-at-timeout", "timeout-below-deadline", "retry-at-timeout", "stale-too-soon"],
)
def test_timings_that_could_strand_a_turn_refuse_to_start_in_one_line(env, line):
    result = _settings_import(**env)

    assert result.returncode != 0 and "ok" not in result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: " + line)


def test_the_default_timings_and_a_consistent_override_start():
    assert _settings_import().stdout.strip() == "ok"
    consistent = _settings_import(
        LLM_DEADLINE_S="200", Q_TIMEOUT_S="240", Q_RETRY_S="300", TURN_STALE_AFTER_S="270"
    )
    assert consistent.stdout.strip() == "ok", consistent.stderr
