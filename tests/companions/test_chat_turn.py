"""The first real chat turn, end to end through the HTTP API, on PostgreSQL + pgvector."""

from __future__ import annotations

import json

import pytest

from companions.models import ChatMessage, ChatSession, CompanionAffinity, CompanionAffinityEvent
from eros.llm.base import TASK_CHAT
from eros.llm.fakes import RecordingChatModel
from eros.llm.offline import OfflineChatModel
from insights.models import CompanionInsights
from memory.models import CompanionMemory
from tests.conftest import FIXTURES

CONVERSATION = json.loads((FIXTURES / "conversations" / "first_week.json").read_text())


@pytest.fixture
def recording(settings):
    model = RecordingChatModel(OfflineChatModel())
    settings.EROS_CHAT_MODEL = model
    return model


def _start(client, genome_id) -> str:
    response = client.post("/comp/chat/start", {"genome_id": str(genome_id)}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["session_id"]


@pytest.mark.django_db(transaction=True)
def test_scripted_conversation_replays_with_memory_affinity_and_insights(
    personas, client_for, alice, recording
):
    client = client_for(alice)
    session_id = _start(client, personas[CONVERSATION["persona"]].id)
    turns = CONVERSATION["turns"]
    assert len(turns) >= 12

    bodies = []
    for turn in turns:
        response = client.post(
            f"/comp/chat/{session_id}/message", {"message": turn["user"]}, format="json"
        )
        assert response.status_code == 200, response.content
        bodies.append(response.json())

    # Every turn got a reply; nothing was ghosted (and nothing can be before message 10).
    assert all(b["ghosted"] is False and b["reply"] for b in bodies)
    assert all(800 <= b["typing_delay_ms"] <= 2499 for b in bodies)
    session = ChatSession.objects.get(id=session_id)
    users = ChatMessage.objects.filter(session=session, role="user").order_by("sent_at")
    assert [m.content for m in users] == [t["user"] for t in turns]
    assert {m.turn_status for m in users} == {"replied"}
    replies = ChatMessage.objects.filter(session=session, role="assistant").exclude(
        reply_to_id=None  # the persona's greeting opened the session and answers nothing
    )
    assert replies.count() == len(turns)
    assert {r.reply_to_id for r in replies} == {m.id for m in users}

    # One affinity event per turn, each applying evaluated or rule deltas.
    affinity = CompanionAffinity.objects.get(session=session)
    events = CompanionAffinityEvent.objects.filter(affinity=affinity)
    assert events.count() == len(turns)
    assert {e.event_type for e in events} == {"message"}
    assert {e.context["user_message_id"] for e in events} == {str(m.id) for m in users}
    assert {e.context["source"] for e in events} <= {"offline", "rules"}

    # Memories, not transcripts: the facts the turns stated (profile layer) and the moments
    # shared with the persona (relationship layer), each with a 512-dim embedding and its
    # source messages; no question, greeting or acknowledgement became a memory.
    memories = CompanionMemory.objects.filter(session=session)
    contents = set(memories.filter(instance_id__isnull=True).values_list("content", flat=True))
    assert {
        "Goes by Sam",
        "Lives in Glasgow",
        "Works as a pharmacist",
        "Has a cat called Marmalade",
        "Likes kayaking",
    } <= contents
    message_ids = set(ChatMessage.objects.filter(session=session).values_list("id", flat=True))
    said = {m.id: m.content for m in users}
    for memory in memories:
        assert len(memory.embedding) == 512
        assert memory.category is not None
        assert memory.source_message_ids and set(memory.source_message_ids) <= message_ids
        cited = [said[i] for i in memory.source_message_ids if i in said]
        assert cited and not any(text.rstrip().endswith("?") for text in cited)
        assert not any(memory.content == text for text in said.values())
    assert memories.count() < len(turns)

    # A fact stated early is in the prompt assembled for the later question.
    chat_requests = [r for r in recording.requests if r.task == TASK_CHAT]
    assert len(chat_requests) == len(turns)
    for expectation in CONVERSATION["expect"]["recall"]:
        index = expectation["turn_index"]
        system_prompt = chat_requests[index].messages[0].content
        assert expectation["must_contain"] in system_prompt
        first_mention = next(
            i for i, t in enumerate(turns) if expectation["must_contain"] in t["user"]
        )
        # Not merely in the recent history: the early turn is recalled from memory.
        assert first_mention < index - 5
        history = [m.content for m in chat_requests[index].messages[1:]]
        assert turns[index]["user"] == history[-1]

    # Insight extraction found the stated facts.
    insights = CompanionInsights.objects.get(user_id=alice).insights
    facts = CONVERSATION["expect"]["facts"]
    assert insights["city"] == facts["city"]
    assert facts["occupation"] in insights["occupation"]
    assert facts["interests_include"] in " ".join(insights["interests"])


@pytest.mark.django_db(transaction=True)
def test_first_turn_creates_affinity_with_reference_defaults(alice_session, client_for, alice):
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hello there"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["session_id"] == str(alice_session.id)
    assert body["user_message_id"] and body["message_id"]
    assert body["lead_score"] == 0.0 and body["should_show_cta"] is False
    row = CompanionAffinity.objects.get(session=alice_session)
    assert (row.ghost_streak, row.total_ghosts) == (0, 0)
    assert row.relationship_label is not None
