"""``manage.py benchmark load`` against a live server on 127.0.0.1 (the test database)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from companions.models import ChatMessage, ChatSession
from tests.live_cluster import LiveEros


@pytest.mark.django_db(transaction=True)
def test_load_drives_concurrent_users_and_reports_throughput_latency_and_connections(personas):
    others = _other_connections()
    out = StringIO()
    with LiveEros(env={"DB_POOL_MAX_SIZE": "3"}) as live:
        call_command(
            "benchmark",
            "load",
            "--clients=4",
            "--seconds=2",
            "--warmup-s=0.5",
            f"--url={live.url}",
            stdout=out,
            stderr=StringIO(),
        )
    text = out.getvalue()
    assert "clients: 4, measured for 2.0s" in text
    turns = float(re.search(r"turns/s: ([\d.]+) \((\d+) answered turns\)", text).group(1))
    assert turns > 0
    assert re.search(r"latency ms: p50 \d+  p95 \d+  p99 \d+  max \d+", text)
    statuses = re.search(r"statuses \(warm-up included\): 200: (\d+)$", text, re.M)
    assert statuses, text
    peak = int(re.search(r"peak PostgreSQL connections: (\d+) to this database", text).group(1))
    # The web pool and this test's own connection, beside what other servers of the test
    # session (a session-scoped live server, say) already held.
    assert 1 <= peak <= others + 3 + 1

    # Four users, each on a session of its own, every turn stored with its outcome.
    sessions = ChatSession.objects.all()
    assert sessions.count() == 4 and len({s.user_id for s in sessions}) == 4
    sent = ChatMessage.objects.filter(role=ChatMessage.ROLE_USER)
    assert sent.count() == int(statuses.group(1))
    assert set(sent.values_list("turn_status", flat=True)) <= {"replied", "ghosted"}


def _other_connections() -> int:
    """Connections to the test database besides this process's own one.

    This process's idle pooled connections (left by the threads of earlier tests) are closed
    first, so what remains belongs to other processes.
    """
    connection.close_pool()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]
