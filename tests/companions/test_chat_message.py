"""``POST /comp/chat/{session_id}/message``: the response fields and the failure paths."""

from __future__ import annotations

import uuid

import pytest

from companions.models import ChatMessage, ChatSession
from companions.services.chat_pipeline import should_show_cta, typing_delay_ms
from eros.llm.base import ProviderError
from eros.llm.fakes import FakeChatModel
from insights.services import insight_merge
from personas.models import PersonaInstance
from tests.api import assert_error


@pytest.mark.parametrize(
    ("message_id", "delay"),
    [
        ("01020304-0506-0708-090a-0b0c0d0e0f10", 1601),
        ("ffffffff-ffff-4fff-bfff-ffffffffffff", 1559),
        ("00000000-0000-4000-8000-000000000000", 1884),
    ],
)
def test_typing_delay_reads_the_first_eight_id_bytes_little_endian(message_id, delay):
    assert typing_delay_ms(uuid.UUID(message_id)) == delay


@pytest.mark.parametrize(
    ("lead", "level", "shown"),
    [(7.0, 0.4, True), (6.99, 1.0, False), (10.0, 0.399, False), (9.0, 0.9, True)],
)
def test_cta_needs_lead_score_7_and_training_level_04(lead, level, shown):
    assert should_show_cta(lead, level) is shown


@pytest.fixture
def fake_chat(settings):
    model = FakeChatModel(["hello you"])
    settings.EROS_CHAT_MODEL = model
    return model


@pytest.mark.django_db
def test_reply_carries_lead_score_cta_training_level_and_typing_delay(
    alice_session, client_for, alice, fake_chat
):
    facts = {
        "city": "Lisbon",
        "mbti_guess": "INFP",
        "love_values": "loyalty",
        "emotional_needs": "to be heard",
    }
    insight_merge(user_id=alice, facts=facts)
    ChatSession.objects.filter(id=alice_session.id).update(lead_score=8.0)

    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"content": "hey"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    user_message = ChatMessage.objects.get(session=alice_session, role="user")
    reply = ChatMessage.objects.get(session=alice_session, role="assistant")
    assert body == {
        "reply": "hello you",
        "ghosted": False,
        "message_id": str(reply.id),
        "user_message_id": str(user_message.id),
        "session_id": str(alice_session.id),
        "lead_score": 8.0,
        "should_show_cta": True,
        "typing_delay_ms": typing_delay_ms(user_message.id),
        "agent_training_level": 0.5,
    }
    assert user_message.content == "hey" and user_message.turn_status == "replied"


@pytest.mark.django_db
def test_provider_failure_is_502_and_the_message_is_kept(
    alice_session, client_for, alice, settings
):
    settings.EROS_CHAT_MODEL = FakeChatModel(
        fail_on=[1],
        error=ProviderError("upstream said 503 at https://llm.internal", retryable=True),
    )
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "are you there?"}, format="json"
    )
    body = assert_error(response, 502, "upstream_error")
    assert "llm.internal" not in body["message"]
    kept = ChatMessage.objects.get(session=alice_session, role="user")
    assert (kept.content, kept.turn_status) == ("are you there?", "failed")
    assert ChatMessage.objects.filter(session=alice_session, role="system_error").count() == 1


@pytest.mark.django_db
def test_a_session_whose_persona_instance_is_gone_is_404_and_the_message_is_kept(
    alice_session, client_for, alice, fake_chat
):
    PersonaInstance.objects.filter(id=alice_session.instance_id).update(status="archived")
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hello?"}, format="json"
    )
    assert_error(response, 404, "not_found")
    kept = ChatMessage.objects.get(session=alice_session, role="user")
    assert kept.turn_status == "failed"
    assert fake_chat.calls == 0
