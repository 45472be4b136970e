"""A ghost turn through the API: no model call, reply null, bookkeeping and deltas applied."""

from __future__ import annotations

import pytest
from django.utils import timezone

from companions.models import ChatMessage, CompanionAffinity, CompanionAffinityEvent
from companions.services import affinity as affinity_service
from eros.llm.fakes import FakeChatModel


def _history(session, n):
    for i in range(n):
        ChatMessage.objects.create(
            session=session,
            role="user",
            content=f"earlier {i}",
            turn_status="replied",
            sent_at=timezone.now(),
        )


@pytest.fixture
def fake_chat(settings):
    model = FakeChatModel(["hey you"])
    settings.EROS_CHAT_MODEL = model
    return model


@pytest.mark.django_db(transaction=True)
def test_tenth_message_with_a_cold_vector_is_ghosted_then_the_next_is_answered(
    alice_session, client_for, alice, fake_chat
):
    _history(alice_session, 9)
    row = affinity_service.affinity_get_or_create(session=alice_session)
    CompanionAffinity.objects.filter(id=row.id).update(intrigue=0.05, patience=0.05, tension=0.5)
    client = client_for(alice)

    response = client.post(
        f"/comp/chat/{alice_session.id}/message", {"message": "."}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ghosted"] is True and body["reply"] is None and body["message_id"] is None
    assert [r for r in fake_chat.requests if r.task == "chat_companion"] == []
    ghosted = ChatMessage.objects.get(id=body["user_message_id"])
    assert ghosted.turn_status == "ghosted"
    assert ghosted.context["signals"]["ghost_rule"] == "above_threshold"
    assert not ChatMessage.objects.filter(session=alice_session, role="assistant").exists()
    row.refresh_from_db()
    assert (row.ghost_streak, row.total_ghosts) == (1, 1)
    assert row.patience == pytest.approx(0.05 - 0.2 * 0.05)
    assert row.tension == pytest.approx(0.5 + 0.2 * 0.05)
    (event,) = CompanionAffinityEvent.objects.filter(affinity=row)
    assert event.event_type == "ghost"
    assert event.deltas["patience"] == -0.05 and event.deltas["tension"] == 0.05

    # Within the one-hour cooldown the next message is answered and the streak resets.
    response = client.post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hello??"}, format="json"
    )
    body = response.json()
    assert body["ghosted"] is False and body["reply"] == "hey you"
    row.refresh_from_db()
    assert row.ghost_streak == 0 and row.total_ghosts == 1
    assert CompanionAffinityEvent.objects.filter(affinity=row).count() == 2


@pytest.mark.django_db(transaction=True)
def test_ninth_message_is_never_ghosted(alice_session, client_for, alice, fake_chat):
    _history(alice_session, 8)
    row = affinity_service.affinity_get_or_create(session=alice_session)
    CompanionAffinity.objects.filter(id=row.id).update(intrigue=0.0, patience=0.0, tension=1.0)
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "."}, format="json"
    )
    assert response.json()["ghosted"] is False
