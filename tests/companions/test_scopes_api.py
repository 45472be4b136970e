"""``memory_scope`` and ``affinity_scope`` on both message routes: prompt assembly only."""

from __future__ import annotations

import json

import pytest

from companions.models import CompanionAffinity, CompanionAffinityEvent
from companions.services.sessions import session_start
from eros.llm.base import TASK_AFFINITY, TASK_CHAT, TASK_INSIGHT
from eros.llm.fakes import FakeChatModel
from insights.models import CompanionInsights
from insights.services import insight_merge
from memory.models import CompanionMemory
from tests.api import assert_error, db_snapshot
from tests.prompts import insight_step

EVALUATION = {"warmth": 0.1, "trust": 0.05, "intrigue": 0.0, "intimacy": 0.02, "tension": 0.01}


def _scripted(request) -> str:
    """The same answers whatever the prompt says, so only the scopes could make a difference."""
    if request.task == TASK_CHAT:
        return "That sounds lovely, tell me more."
    if request.task == TASK_AFFINITY:
        return json.dumps({**EVALUATION, "reason": "kind words"})
    if request.task == TASK_INSIGHT:
        if insight_step(request) == "facts":
            return json.dumps(
                {
                    "facts": ["lives in Lisbon", "values loyalty"],
                    "moment": "Told the story of learning to sail with their grandfather",
                }
            )
        return json.dumps({"city": "Lisbon", "love_values": "loyalty", "interests": ["sailing"]})
    return "{}"


@pytest.fixture
def scripted(settings):
    model = FakeChatModel(_scripted)
    settings.EROS_CHAT_MODEL = model
    return model


def _chat_prompts(model) -> list[str]:
    return [r.messages[0].content for r in model.requests if r.task == TASK_CHAT]


def _send(client, session, route="message", **body):
    return client.post(
        f"/comp/chat/{session.id}/{route}", {"message": "I moved to Lisbon!", **body}, format="json"
    )


@pytest.fixture
def send_and_run(django_capture_on_commit_callbacks):
    """``_send`` and then run its on-commit work (the queued turn of message_async, the
    post-process of message) inside a rolled-back test."""

    def send(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            response = _send(*args, **kwargs)
        return response

    return send


@pytest.fixture
def known_user(alice_session, alice):
    insight_merge(user_id=alice, facts={"city": "Porto", "love_values": "marigold vows"})
    return alice_session


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["message", "message_async"])
def test_defaults_show_neutral_insights_and_the_bond_axes(
    known_user, client_for, alice, scripted, route, send_and_run
):
    response = send_and_run(client_for(alice), known_user, route)
    assert response.status_code in (200, 202)
    (prompt,) = _chat_prompts(scripted)
    assert "Porto" in prompt and "marigold vows" not in prompt  # neutral_and_relationship
    assert "warmth=0.30, intimacy=0.00, tension=0.10" in prompt  # bond
    assert "trust=" not in prompt


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["message", "message_async"])
@pytest.mark.parametrize(
    ("memory_scope", "affinity_scope", "present", "absent"),
    [
        ("full", "full", ["Porto", "marigold vows", "trust=0.20", "patience=0.50"], []),
        ("insights_only", ["trust"], ["Porto", "marigold vows", "trust=0.20"], ["warmth="]),
        ("none", [], [], ["Porto", "marigold vows", "Inner state"]),
        ("relationship_only", "chemistry", ["intrigue=0.50"], ["Porto", "warmth="]),
        (None, None, ["Porto", "warmth=0.30"], ["marigold vows", "trust="]),
    ],
    ids=["full", "insights-trust", "none-empty-list", "relationship-chemistry", "nulls"],
)
def test_scopes_shape_the_prompt_on_both_routes(
    known_user,
    client_for,
    alice,
    scripted,
    route,
    memory_scope,
    affinity_scope,
    present,
    absent,
    send_and_run,
):
    response = send_and_run(
        client_for(alice),
        known_user,
        route,
        memory_scope=memory_scope,
        affinity_scope=affinity_scope,
    )
    assert response.status_code in (200, 202), response.content
    (prompt,) = _chat_prompts(scripted)
    for text in present:
        assert text in prompt
    for text in absent:
        assert text not in prompt


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["message", "message_async"])
@pytest.mark.parametrize(
    ("body", "field", "named"),
    [
        ({"memory_scope": "everything"}, "memory_scope", "everything"),
        ({"memory_scope": 3}, "memory_scope", "3"),
        ({"memory_scope": ["full"]}, "memory_scope", "full"),
        ({"affinity_scope": "bogus"}, "affinity_scope", "bogus"),
        ({"affinity_scope": ["warmth", "lust"]}, "affinity_scope", "lust"),
        ({"affinity_scope": ["warmth", 3]}, "affinity_scope", "3"),
        ({"affinity_scope": 7}, "affinity_scope", ""),
        ({"affinity_scope": {"warmth": 1}}, "affinity_scope", ""),
    ],
    ids=[
        "unknown-memory",
        "memory-number",
        "memory-list",
        "unknown-preset",
        "unknown-axis",
        "axis-number",
        "affinity-number",
        "affinity-object",
    ],
)
def test_unknown_scope_values_are_400_naming_the_value(
    alice_session, client_for, alice, route, body, field, named
):
    before = db_snapshot()
    error = assert_error(
        _send(client_for(alice), alice_session, route, **body), 400, "validation_error"
    )
    assert named in error["details"][field][0]
    assert db_snapshot() == before


def _state_of(user_id, session):
    """Everything post-process wrote for one user's turn, without ids and timestamps."""
    row = CompanionAffinity.objects.get(session=session)
    events = [
        (e.event_type, e.deltas, e.context["source"], e.context.get("reason"))
        for e in CompanionAffinityEvent.objects.filter(affinity=row).order_by("created_at")
    ]
    memories = sorted(
        (m.instance_id is None, m.content, m.category, len(m.source_message_ids))
        for m in CompanionMemory.objects.filter(user_id=user_id)
    )
    insights = CompanionInsights.objects.get(user_id=user_id)
    return {
        "vector": [
            round(getattr(row, a), 12)
            for a in ("warmth", "trust", "intrigue", "intimacy", "patience", "tension")
        ],
        "label": row.relationship_label,
        "events": events,
        "memories": memories,
        "insights": insights.insights,
        "training_level": insights.training_level,
    }


@pytest.mark.django_db(transaction=True)
def test_post_process_writes_are_the_same_under_any_scope(
    personas, client_for, alice, bob, scripted
):
    genome = sorted(personas.values(), key=lambda g: g.name)[0]
    sessions = {}
    for user in (alice, bob):
        insight_merge(user_id=user, facts={"city": "Porto", "love_values": "marigold vows"})
        sessions[user] = session_start(user_id=user, genome_id=genome.id).session

    narrow = _send(client_for(alice), sessions[alice], memory_scope="none", affinity_scope="none")
    wide = _send(client_for(bob), sessions[bob], memory_scope="full", affinity_scope="full")
    assert narrow.status_code == wide.status_code == 200

    narrow_prompt, wide_prompt = _chat_prompts(scripted)
    assert narrow_prompt != wide_prompt  # the scopes did change what the model saw
    assert "marigold vows" in wide_prompt and "marigold vows" not in narrow_prompt

    state = _state_of(alice, sessions[alice])
    assert state == _state_of(bob, sessions[bob])
    # ... and the writes are real: the evaluator's deltas, both memory layers, merged insights.
    assert state["events"] == [("message", {**EVALUATION, "patience": 0.0}, "llm", "kind words")]
    assert [layer for layer, *_ in state["memories"]] == [False, True, True]
    assert state["insights"]["city"] == "Lisbon" and state["insights"]["love_values"] == "loyalty"
