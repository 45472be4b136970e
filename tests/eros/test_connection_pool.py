"""The bounded connection pool, against live servers on 127.0.0.1 and the test database.

Sixty users at once get every turn answered with a bounded number of PostgreSQL connections;
a request that cannot get a connection in time is a 503 in the error shape; connections the
server dropped are replaced without an error; a forked child builds its own pool.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter

import httpx
import pytest
from django.db import connection, connections

from companions.models import ChatMessage, ChatSession
from companions.services.chat_pipeline import TURN_LOCK_NAMESPACE
from companions.services.sessions import session_start
from eros.benchmark_load import ConnectionSampler
from tests.conftest import token_for
from tests.live_cluster import LiveEros

CLIENTS = 60
TURNS_EACH = 2
WEB_POOL = 4
Q_WORKERS = 2
#: django-q2 processes besides the workers that touch the database: sentinel, pusher, monitor,
#: and the cluster's parent.
Q_OTHERS = 4


def _users(personas, count: int) -> list[tuple[str, ChatSession]]:
    import uuid

    genome = sorted(personas.values(), key=lambda g: g.name)[0]
    users = []
    for _ in range(count):
        user = uuid.uuid4()
        users.append((token_for(user), session_start(user_id=user, genome_id=genome.id).session))
    return users


async def _drive(base: str, users, turns_each: int) -> list[tuple[str, int, str]]:
    """Every user sends ``turns_each`` messages in a row, all users at once (one async client)."""
    limits = httpx.Limits(max_connections=len(users) + 4, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        start = asyncio.Event()

        async def user(index: int, token: str, session: ChatSession):
            await start.wait()
            sent = []
            for turn in range(turns_each):
                text = f"user {index:02d} says hello, turn {turn}"
                response = await client.post(
                    f"/comp/chat/{session.id}/message",
                    json={"message": text},
                    headers={"Authorization": f"Bearer {token}"},
                )
                sent.append((text, response.status_code, response.text))
            return sent

        tasks = [asyncio.create_task(user(i, t, s)) for i, (t, s) in enumerate(users)]
        await asyncio.sleep(0.1)
        start.set()
        return [item for sent in await asyncio.gather(*tasks) for item in sent]


@pytest.mark.django_db(transaction=True)
def test_sixty_concurrent_users_get_every_turn_answered_with_bounded_connections(personas):
    users = _users(personas, CLIENTS)
    env = {"DB_POOL_MAX_SIZE": str(WEB_POOL), "Q_WORKERS": str(Q_WORKERS)}
    sampler = ConnectionSampler()
    with LiveEros(worker=True, env=env) as live:
        sampler.start()
        try:
            results = asyncio.run(_drive(live.url, users, TURNS_EACH))
        finally:
            sampler.stop()
        # Let the worker finish post-process so that stopping it is quick.
        from django_q.models import OrmQ

        deadline = time.monotonic() + 90
        while OrmQ.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.25)

    statuses = Counter(status for _, status, _ in results)
    assert statuses == {200: CLIENTS * TURNS_EACH}, [r for r in results if r[1] != 200][:3]

    # Every user message stored exactly once, with exactly one outcome.
    sessions = [session for _, session in users]
    texts = sorted(text for text, _, _ in results)
    stored = ChatMessage.objects.filter(session__in=sessions, role=ChatMessage.ROLE_USER)
    assert sorted(stored.values_list("content", flat=True)) == texts
    outcomes = Counter(stored.values_list("turn_status", flat=True))
    assert set(outcomes) <= {ChatMessage.TURN_REPLIED, ChatMessage.TURN_GHOSTED}, outcomes
    # A new session opens with the persona's greeting, which answers no message.
    replies = ChatMessage.objects.filter(
        session__in=sessions, role=ChatMessage.ROLE_ASSISTANT, reply_to_id__isnull=False
    )
    replied = set(stored.filter(turn_status=ChatMessage.TURN_REPLIED).values_list("id", flat=True))
    answered = list(replies.values_list("reply_to_id", flat=True))
    assert len(answered) == len(set(answered)) and set(answered) == replied
    assert not ChatMessage.objects.filter(
        session__in=sessions, role=ChatMessage.ROLE_SYSTEM_ERROR
    ).exists()

    # Bounded: the web pool, one per django-q2 process, and this test's own two.
    assert sampler.error is None
    assert 1 <= sampler.peak <= WEB_POOL + Q_WORKERS + Q_OTHERS + 2, sampler.peak


@pytest.mark.django_db(transaction=True)
def test_a_request_that_gets_no_connection_in_time_is_a_503_in_the_error_shape(alice_session):
    session = alice_session
    token = token_for(session.user_id)
    headers = {"Authorization": f"Bearer {token}"}
    key = int.from_bytes(session.id.bytes[:4], "big", signed=True)
    env = {"DB_POOL_MIN_SIZE": "1", "DB_POOL_MAX_SIZE": "1", "DB_POOL_TIMEOUT_S": "1"}
    with LiveEros(env=env) as live:
        # Hold the session's turn lock, so a turn waits inside the pipeline holding the one
        # pooled connection of the web process.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [TURN_LOCK_NAMESPACE, key])
        turn: dict = {}

        def send_turn():
            turn["response"] = httpx.post(
                f"{live.url}/comp/chat/{session.id}/message",
                json={"message": "are you there?"},
                headers=headers,
                timeout=60,
            )

        sender = threading.Thread(target=send_turn)
        sender.start()
        try:
            deadline = time.monotonic() + 20
            while not _waiting_on_turn_lock() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _waiting_on_turn_lock(), "the turn never reached the lock"

            started = time.monotonic()
            blocked = httpx.get(f"{live.url}/comp/personas", headers=headers, timeout=30)
            waited = time.monotonic() - started
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [TURN_LOCK_NAMESPACE, key])
            sender.join(60)

        assert blocked.status_code == 503
        assert blocked.json() == {
            "error": "service_unavailable",
            "message": "the database is busy or unavailable; please retry",
        }
        assert blocked.headers["Retry-After"] == "1"
        assert 0.9 <= waited < 10
        # The held turn went on once the lock was released, and the pool serves again.
        assert turn["response"].status_code == 200, turn["response"].text
        again = httpx.get(f"{live.url}/comp/personas", headers=headers, timeout=30)
        assert again.status_code == 200


def _waiting_on_turn_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND classid = %s",
            [TURN_LOCK_NAMESPACE],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_connections_the_database_dropped_are_replaced_without_an_error(alice_session):
    headers = {"Authorization": f"Bearer {token_for(alice_session.user_id)}"}
    env = {"DB_POOL_MIN_SIZE": "3", "DB_POOL_MAX_SIZE": "3"}
    with LiveEros(env=env) as live:
        url = f"{live.url}/comp/personas"
        assert httpx.get(url, headers=headers, timeout=30).status_code == 200
        # As a failover or a pooler restart would: end every session of the server's pool.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
            assert cursor.fetchone()[0] >= 1

        started = time.monotonic()
        responses = [httpx.get(url, headers=headers, timeout=30) for _ in range(5)]
        elapsed = time.monotonic() - started

    assert [r.status_code for r in responses] == [200] * 5, responses[0].text
    assert elapsed < 10


@pytest.mark.django_db(transaction=True)
def test_a_forked_child_builds_its_own_pool_and_leaves_the_parents_alone():
    from django.db.backends.postgresql.base import DatabaseWrapper

    with connection.cursor() as cursor:  # the parent's pool is open and holds connections
        cursor.execute("SELECT pg_backend_pid()")
        parent_backend = cursor.fetchone()[0]
    connection.close()  # back to the pool, as django-q2 does before it forks
    assert "default" in DatabaseWrapper._connection_pools
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running any cleanup
        code = 1
        try:
            inherited = "default" in DatabaseWrapper._connection_pools
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                child_backend = cursor.fetchone()[0]
            os.write(write, f"{inherited} {child_backend}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    inherited, child_backend = os.read(read, 100).decode().split()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert inherited == "False"
    assert int(child_backend) != parent_backend
    with connection.cursor() as cursor:  # the parent's pooled connection still works
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db(transaction=True)
def test_streamed_turns_outnumbering_the_pool_all_finish(personas, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from tests.live import read_events, start_live_server, test_database_url

    users = _users(personas, 6)
    server = start_live_server(
        tmp_path,
        database_url=test_database_url(),
        env={"DB_POOL_MIN_SIZE": "0", "DB_POOL_MAX_SIZE": "2", "DB_POOL_TIMEOUT_S": "5"},
    )
    # Each reply streams for about a second, while its request still runs.
    server.script(["Well,", " hello", " there."], delay_s=0.3)

    def stream(user) -> list[str]:
        token, session = user
        with httpx.stream(
            "POST",
            f"{server.base}/comp/chat/{session.id}/message/stream",
            json={"message": "tell me something"},
            headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
            timeout=60,
        ) as response:
            assert response.status_code == 200, response.read()
            return [name for name, _, _ in read_events(response)]

    try:
        with ThreadPoolExecutor(len(users)) as pool:
            events = list(pool.map(stream, users))
    finally:
        server.stop()

    # A stream's request gives its connection back before streaming, so the threads that
    # persist the replies are never starved of one by the requests waiting on them.
    assert all(names[0] == "meta" and names[-1] == "done" for names in events), events
    sessions = [session for _, session in users]
    assert ChatMessage.objects.filter(
        session__in=sessions, role=ChatMessage.ROLE_ASSISTANT, reply_to_id__isnull=False
    ).count() == len(users)
