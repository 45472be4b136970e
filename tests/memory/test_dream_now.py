"""Dream now: one named session distilled at once, idle or not, with the sweeper's claim
(``dreaming_distil_session``), from ``manage.py dreaming --session``, admin and ``chat``."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from companions.models import ChatSession
from companions.services.dreaming import dreaming_distil_session, dreaming_sweep_one
from eros.errors import Conflict, NotFound
from eros.llm.offline import OfflineChatModel
from memory.models import CompanionMemory
from tests.memory.test_dreaming import conversation

LINES = ["I live in Lisbon.", "Nice!", "I love sea kayaking."]


@pytest.fixture(autouse=True)
def offline(settings):
    settings.EROS_CHAT_MODEL = OfflineChatModel()


@pytest.fixture
def active(alice):
    """A session whose last message is seconds old: no sweeper would claim it yet."""
    return conversation(alice, lines=LINES, at=timezone.now())


def distilled(session) -> set[str]:
    return set(
        CompanionMemory.objects.filter(session=session, category__isnull=False).values_list(
            "content", flat=True
        )
    )


@pytest.mark.django_db
def test_an_active_session_is_distilled_now_and_stamped(active):
    assert dreaming_sweep_one() is None  # not idle: the sweeper leaves it
    outcome = dreaming_distil_session(session_id=active.id)
    assert (outcome.status, outcome.messages, outcome.created) == ("distilled", 3, 2)
    assert len(distilled(active)) == 2
    active.refresh_from_db()
    assert active.classified_at is not None and active.classification_claimed_at is None
    again = dreaming_distil_session(session_id=active.id)
    assert (again.status, again.created) == ("empty", 0)


@pytest.mark.django_db
def test_an_unknown_session_or_one_held_by_a_live_sweeper_is_refused(active):
    with pytest.raises(NotFound):
        dreaming_distil_session(session_id=uuid.uuid4())
    ChatSession.objects.filter(id=active.id).update(classification_claimed_at=timezone.now())
    with pytest.raises(Conflict):
        dreaming_distil_session(session_id=active.id)
    assert distilled(active) == set()


@pytest.mark.django_db
def test_the_dreaming_command_distils_one_session(active):
    out = StringIO()
    call_command("dreaming", "--session", str(active.id), stdout=out, stderr=StringIO())
    assert f"distilled  session {active.id}: 3 message(s) -> 2 new, 0 merged" in out.getvalue()
    assert len(distilled(active)) == 2
    with pytest.raises(CommandError, match="session not found"):
        call_command("dreaming", "--session", str(uuid.uuid4()), stdout=StringIO())


@pytest.mark.django_db
def test_the_admin_dream_now_action_distils_the_chosen_sessions(admin_client, active):
    listing = reverse("admin:companions_chatsession_changelist")
    response = admin_client.post(
        listing,
        {"action": "dream_now", "_selected_action": [str(active.id)], "index": "0"},
        follow=True,
    )
    assert response.status_code == 200
    assert "distilled, 3 message(s) -&gt; 2 new, 0 merged memories" in response.content.decode()
    assert len(distilled(active)) == 2


@pytest.mark.django_db
def test_chat_dream_command_distils_the_chat(personas, monkeypatch, settings):
    typed = iter(["I live in Lisbon.", "/dream", "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    out = StringIO()
    call_command("chat", stdout=out)
    assert "(dreaming: distilled;" in out.getvalue()
    session = ChatSession.objects.order_by("-created_at").first()
    assert CompanionMemory.objects.filter(session=session, category="fact").exists()
