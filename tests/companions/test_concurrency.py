"""Twenty clients message one session at once, against a live server on 127.0.0.1.

The session is primed so that the first turn to decide is ghosted (ten user messages, a cold
vector); the ghost cooldown must then hold for all the others, which only works if turns of
one session decide one after another. Post-process runs on a real django-q2 worker.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from companions.models import ChatMessage, CompanionAffinity, CompanionAffinityEvent
from companions.services import affinity as affinity_service
from tests.conftest import token_for
from tests.live_cluster import LiveEros

CLIENTS = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_messages_are_each_stored_once_and_ghost_rules_hold(alice_session, alice):
    session = alice_session
    earlier = timezone.now() - timedelta(hours=2)
    for i in range(9):
        ChatMessage.objects.create(
            session=session,
            role="user",
            content=f"earlier {i}",
            turn_status="replied",
            sent_at=earlier + timedelta(seconds=i),
        )
    row = affinity_service.affinity_get_or_create(session=session)
    CompanionAffinity.objects.filter(id=row.id).update(intrigue=0.0, patience=0.0, tension=1.0)
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    texts = [f"concurrent message {i:02d}" for i in range(CLIENTS)]

    with LiveEros(worker=True) as live:
        start = threading.Barrier(CLIENTS)

        def send(text: str) -> httpx.Response:
            with httpx.Client(base_url=live.url, headers=headers, timeout=120) as client:
                start.wait()
                return client.post(f"/comp/chat/{session.id}/message", json={"message": text})

        with ThreadPoolExecutor(CLIENTS) as pool:
            responses = list(pool.map(send, texts))

        assert [r.status_code for r in responses] == [200] * CLIENTS, [
            r.text for r in responses if r.status_code != 200
        ]
        bodies = [r.json() for r in responses]
        replied_ids = {b["user_message_id"] for b in bodies if not b["ghosted"]}

        # Post-process runs on the worker: wait for one affinity event per completed turn.
        deadline = time.monotonic() + 90
        message_events = CompanionAffinityEvent.objects.filter(
            affinity__session_id=session.id, event_type="message"
        )
        while message_events.count() < len(replied_ids) and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(1.0)  # let any duplicate show up before looking

    # Every user message stored exactly once, with its turn answered or ghosted.
    users = ChatMessage.objects.filter(session=session, role="user", content__in=texts)
    assert sorted(users.values_list("content", flat=True)) == sorted(texts)
    assert {str(m.id) for m in users} == {b["user_message_id"] for b in bodies}
    statuses = sorted(users.values_list("turn_status", flat=True))
    assert statuses == ["ghosted"] + ["replied"] * (CLIENTS - 1)

    # Ghost rules: one ghost, then the one-hour cooldown held for every other turn.
    assert [b["ghosted"] for b in bodies].count(True) == 1
    ghosted = next(b for b in bodies if b["ghosted"])
    assert ghosted["reply"] is None and ghosted["message_id"] is None
    row.refresh_from_db()
    assert row.total_ghosts == 1 and row.ghost_streak == 0
    replies = ChatMessage.objects.filter(session=session, role="assistant")
    assert replies.count() == CLIENTS - 1
    # The first turn to decide ghosted; every later decision saw it and replied.
    assert users.get(turn_status="ghosted").context["signals"]["ghost_rule"] == "above_threshold"
    assert {r.context["signals"]["ghost_rule"] for r in replies} == {"cooldown"}
    assert {str(r.reply_to_id) for r in replies} == replied_ids
    assert all(b["reply"] for b in bodies if not b["ghosted"])

    # One affinity event per completed turn (and the ghost's own), no duplicates.
    events = CompanionAffinityEvent.objects.filter(affinity=row)
    per_turn = [e.context["user_message_id"] for e in events.filter(event_type="message")]
    assert sorted(per_turn) == sorted(replied_ids)
    assert events.filter(event_type="ghost").count() == 1
    assert events.count() == CLIENTS
