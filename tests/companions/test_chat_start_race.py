"""Simultaneous ``POST /comp/chat/start`` calls for a new user yield one session.

Real threads, each with its own database connection, against the real database: the calls
meet at a barrier so that they look for a session at the same moment.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from rest_framework.test import APIClient

from companions.models import ChatSession
from personas.models import PersonaInstance
from tests.conftest import token_for

CALLS = 15
TRIALS = 5


def _start_all_at_once(user_id: uuid.UUID, genome_id: uuid.UUID) -> list:
    barrier = threading.Barrier(CALLS)

    def start(_):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user_id)}")
        try:
            barrier.wait()
            return client.post("/comp/chat/start", {"genome_id": str(genome_id)}, format="json")
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(CALLS) as pool:
        return list(pool.map(start, range(CALLS)))


@pytest.mark.django_db(transaction=True)
def test_fifteen_simultaneous_starts_for_a_new_user_create_one_session(personas):
    genome = sorted(personas.values(), key=lambda g: g.name)[0]
    for _ in range(TRIALS):
        user_id = uuid.uuid4()
        responses = _start_all_at_once(user_id, genome.id)

        assert [r.status_code for r in responses] == [200] * CALLS, [r.content for r in responses]
        bodies = [r.json() for r in responses]
        sessions = ChatSession.objects.filter(user_id=user_id)
        assert sessions.count() == 1
        assert {b["session_id"] for b in bodies} == {str(sessions.get().id)}
        assert [b["is_new"] for b in bodies].count(True) == 1
        instance = PersonaInstance.objects.get(owner_uid=user_id)
        assert {b["instance_id"] for b in bodies} == {str(instance.id)}
