"""Shared fixtures: the fixed cast (alice owns, bob is a stranger), tokens, seeded personas.

Tests run against real PostgreSQL + pgvector (the embedded server, or ``DATABASE_URL``) and
real django-q2 in synchronous mode, so post-process tasks run in-process when they are
enqueued. A run that starts the embedded server stops it when it ends; one that found it
running leaves it running.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

ALICE = uuid.UUID("00000000-0000-4000-8000-00000000a11c")
BOB = uuid.UUID("00000000-0000-4000-8000-000000000b0b")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


#: Whether this run started the embedded PostgreSQL (and so stops it at the end).
_OWNS_SERVER = pytest.StashKey[bool]()


def _embedded_pgdata() -> str | None:
    try:
        from django.conf import settings

        return settings.DATABASES["default"].get("EMBEDDED_PGDATA")
    except Exception:  # Django is not configured for this run
        return None


def pytest_sessionstart(session):
    from eros.db import server_running

    pgdata = _embedded_pgdata()
    session.config.stash[_OWNS_SERVER] = bool(pgdata) and not server_running(pgdata)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    """Stop the embedded server if this run started it (the test database is gone by now)."""
    if not session.config.stash.get(_OWNS_SERVER, False):
        return
    from django.db import connections

    from eros.db import stop_server

    connections.close_all()
    stop_server(_embedded_pgdata())


@pytest.fixture(autouse=True)
def _django_q_sync(monkeypatch):
    """Run django-q2 tasks in-process (django-q2 reads Q_CLUSTER once, so patch Conf)."""
    try:
        from django_q.conf import Conf
    except Exception:  # tests/domain and tests/llm run without Django
        return
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def _no_rate_limits(monkeypatch):
    """No test is throttled by accident: the API rate limits are off unless a test sets them
    (``settings.API_RATE_LIMIT``, ``settings.API_RATE_LIMIT_IP``). Live servers started by the
    tests get ``off`` through their environment (``tests/live.py``, ``tests/live_cluster.py``)."""
    try:
        from django.conf import settings

        settings.API_RATE_LIMIT  # noqa: B018  (raises when Django is not configured)
    except Exception:  # tests/domain and tests/llm run without Django
        return
    monkeypatch.setattr(settings, "API_RATE_LIMIT", None)
    monkeypatch.setattr(settings, "API_RATE_LIMIT_IP", None)


@pytest.fixture
def alice() -> uuid.UUID:
    return ALICE


@pytest.fixture
def bob() -> uuid.UUID:
    return BOB


def token_for(user_id: uuid.UUID, **overrides) -> str:
    from eros.auth import mint_token

    return mint_token(user_id, **overrides)


@pytest.fixture
def client_for():
    """``client_for(user_id)`` → a DRF APIClient sending that user's bearer token."""
    from rest_framework.test import APIClient

    def make(user_id: uuid.UUID | None) -> APIClient:
        client = APIClient()
        if user_id is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user_id)}")
        return client

    return make


@pytest.fixture
def personas(db):
    """The shipped personas, seeded; returns {name: genome}."""
    from personas.models import PersonaGenome
    from personas.services import personas_seed

    personas_seed(directory=FIXTURES / "personas")
    return {g.name: g for g in PersonaGenome.objects.all()}


@pytest.fixture
def alice_session(personas, alice):
    """A session of alice with the first persona (by name), its greeting taken out so that a
    test sees only the messages it sends (tests/companions/test_greeting.py covers greetings)."""
    from companions.models import ChatMessage
    from companions.services.sessions import session_start

    genome = sorted(personas.values(), key=lambda g: g.name)[0]
    session = session_start(user_id=alice, genome_id=genome.id).session
    ChatMessage.objects.filter(session=session).delete()
    return session


@pytest.fixture(scope="session")
def live_eros(django_db_setup, django_db_blocker, tmp_path_factory):
    """A live eros web process on 127.0.0.1 with a scripted chat model (``tests/live.py``).

    It uses the test database, so tests need ``django_db(transaction=True)``; the playground
    and the affinity debug route are on.
    """
    from tests.live import start_live_server, test_database_url

    with django_db_blocker.unblock():
        url = test_database_url()
    server = start_live_server(
        tmp_path_factory.mktemp("live"),
        database_url=url,
        env={"EROS_PLAYGROUND": "true", "EXPOSE_AFFINITY_DEBUG": "true"},
    )
    yield server
    server.stop()
