"""The user's name is captured into the profile and used by the persona (offline providers)."""

from __future__ import annotations

import pytest

from eros.llm.base import TASK_CHAT
from eros.llm.fakes import RecordingChatModel
from eros.llm.offline import OfflineChatModel
from insights.models import CompanionInsights


def _send(client, session, text):
    response = client.post(f"/comp/chat/{session.id}/message", {"message": text}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db(transaction=True)
def test_a_name_given_once_is_in_the_profile_the_prompt_and_the_reply(
    alice_session, client_for, alice, settings
):
    model = RecordingChatModel(OfflineChatModel())
    settings.EROS_CHAT_MODEL = model
    client = client_for(alice)

    first = _send(client, alice_session, "Hi, I'm Sam.")
    assert "Sam" in first["reply"]  # she says it back at once

    # Post-process (django-q2 sync mode in tests) put it in the profile.
    profile = CompanionInsights.objects.get(user_id=alice).insights
    assert profile["preferred_name"] == "Sam"

    second = _send(client, alice_session, "hello")
    chat = [r for r in model.requests if r.task == TASK_CHAT][-1]
    assert "Sam" in chat.messages[0].content  # what a real model reads
    assert chat.context.user_name == "Sam"
    assert second["reply"].split(".")[0].endswith(", Sam")  # her greeting names them


@pytest.mark.django_db(transaction=True)
def test_a_later_name_replaces_the_earlier_one(alice_session, client_for, alice, settings):
    settings.EROS_CHAT_MODEL = OfflineChatModel()
    client = client_for(alice)
    _send(client, alice_session, "My name is Samantha.")
    _send(client, alice_session, "Actually, call me Sam.")

    assert CompanionInsights.objects.get(user_id=alice).insights["preferred_name"] == "Sam"
