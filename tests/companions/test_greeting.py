"""A persona's greeting: the first message of a new session, in history and in the next prompt."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from companions.models import ChatMessage
from companions.services.dreaming import dreaming_backlog
from eros.llm.base import TASK_CHAT
from eros.llm.fakes import FakeChatModel
from insights.models import CompanionInsights
from insights.services import insight_merge
from personas.models import PersonaGenome

JUNO_OPENING = "Oi, you. Mind the chain oil on that stool. I'm Juno."


def _start(client, genome_id) -> dict:
    response = client.post("/comp/chat/start", {"genome_id": str(genome_id)}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _history(client, session_id) -> dict:
    response = client.get(f"/comp/chat/{session_id}/history")
    assert response.status_code == 200, response.content
    return response.json()


def test_every_shipped_persona_has_a_greeting(personas):
    assert {name: bool(g.greeting) for name, g in personas.items()} == {
        "Idris": True,
        "Juno": True,
        "Noor": True,
    }


@pytest.mark.django_db
def test_a_new_session_opens_with_the_persona_greeting_as_its_first_message(
    personas, client_for, alice
):
    client = client_for(alice)

    started = _start(client, personas["Juno"].id)

    assert started["is_new"] is True
    history = _history(client, started["session_id"])
    assert history["total"] == 1 and history["has_more"] is False
    (greeting,) = history["messages"]
    assert greeting["role"] == "assistant"
    assert greeting["content"].startswith(JUNO_OPENING)
    assert "{{" not in greeting["content"]
    row = ChatMessage.objects.get(id=greeting["id"])
    assert str(row.session_id) == started["session_id"]
    assert (row.reply_to_id, row.turn_status, row.context) == (None, None, {"greeting": True})


@pytest.mark.django_db
def test_the_greeting_names_the_user_once_their_profile_knows_their_name(
    personas, client_for, alice
):
    insight_merge(user_id=alice, facts={"preferred_name": "Maya", "city": "Leeds"})
    client = client_for(alice)

    juno = _start(client, personas["Juno"].id)
    noor = _start(client, personas["Noor"].id)

    assert _history(client, juno["session_id"])["messages"][0]["content"].startswith(
        "Oi, Maya. Mind the chain oil"
    )
    assert _history(client, noor["session_id"])["messages"][0]["content"].startswith(
        "Oh, hello Maya!"
    )
    # The name is kept by the schema but weighs nothing: only the city counts.
    assert CompanionInsights.objects.get(user_id=alice).training_level == 0.05


@pytest.mark.django_db
def test_char_and_user_placeholders_are_filled_in_any_spelling(personas, client_for, alice):
    genome = PersonaGenome.objects.create(
        name="Tess",
        system_prompt="You are Tess.",
        greeting="*{{char}} waves at {{ User }}.* Hi, I'm <BOT>. Nice to meet <USER>.",
    )
    client = client_for(alice)

    started = _start(client, genome.id)

    (greeting,) = _history(client, started["session_id"])["messages"]
    assert greeting["content"] == "*Tess waves at you.* Hi, I'm Tess. Nice to meet you."


@pytest.mark.django_db
def test_a_resumed_session_is_not_greeted_again(personas, client_for, alice):
    client = client_for(alice)
    first = _start(client, personas["Idris"].id)

    again = _start(client, personas["Idris"].id)

    assert again["is_new"] is False and again["session_id"] == first["session_id"]
    assert _history(client, first["session_id"])["total"] == 1


@pytest.mark.django_db
def test_a_persona_without_a_greeting_starts_an_empty_session(personas, client_for, alice):
    PersonaGenome.objects.filter(id=personas["Noor"].id).update(greeting=None)
    client = client_for(alice)

    started = _start(client, personas["Noor"].id)

    assert _history(client, started["session_id"]) == {
        "session_id": started["session_id"],
        "messages": [],
        "total": 0,
        "has_more": False,
    }


@pytest.mark.django_db
def test_the_greeting_is_in_the_prompt_history_of_the_first_turn(
    personas, client_for, alice, settings
):
    model = FakeChatModel(["Whatever. Tea's there."])
    settings.EROS_CHAT_MODEL = model
    client = client_for(alice)
    started = _start(client, personas["Juno"].id)

    response = client.post(
        f"/comp/chat/{started['session_id']}/message", {"message": "hi Juno"}, format="json"
    )

    assert response.status_code == 200, response.content
    (chat,) = [r for r in model.requests if r.task == TASK_CHAT]
    roles = [(m.role, m.content[:30]) for m in chat.messages[1:]]
    assert roles == [("assistant", JUNO_OPENING[:30]), ("user", "hi Juno")]
    history = _history(client, started["session_id"])["messages"]
    assert [m["role"] for m in history] == ["assistant", "user", "assistant"]


@pytest.mark.django_db
def test_dreaming_leaves_a_session_holding_only_its_greeting_alone(
    personas, client_for, alice, settings
):
    client = client_for(alice)
    started = _start(client, personas["Noor"].id)
    later = timezone.now() + timedelta(seconds=settings.DREAMING_IDLE_SECS + 60)

    assert dreaming_backlog(now=later) == 0

    ChatMessage.objects.create(
        session_id=started["session_id"], role="user", content="I grow basil on my windowsill"
    )
    assert dreaming_backlog(now=later + timedelta(seconds=1)) == 1
