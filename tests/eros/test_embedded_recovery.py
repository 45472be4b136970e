"""The embedded PostgreSQL comes back by itself after its postmaster is killed.

The test runs its own embedded server in a fresh data dir (not the suite's), serves eros from
it on 127.0.0.1, kills the postmaster with SIGKILL (which leaves ``postmaster.pid`` and the
socket file behind), and expects requests through the normal code path to succeed again
within seconds, with no manual step and no 500 on the way.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest

from eros.db import accepts_connections, ensure_server, server_running, stop_server
from tests.live import ROOT, free_port

RECOVERY_S = 15  # generous for a loaded 2-core machine; a restart takes about a second


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])


@pytest.fixture
def own_data_dir():
    """A short-pathed data dir (sockets have a 107-byte limit); its server stopped at the end."""
    data_dir = Path(tempfile.mkdtemp(prefix="eros-rec-", dir="/tmp"))
    yield data_dir
    try:
        stop_server(data_dir / "pg16")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def test_killed_postmaster_is_restarted_and_requests_succeed_again(own_data_dir):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        EROS_DATA_DIR=str(own_data_dir),
        CHAT_PROVIDER="offline",
        EMBEDDINGS_PROVIDER="local",
        LOG_LEVEL="WARNING",
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=180)
    token = subprocess.run(
        [*manage, "token"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    port = free_port()
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "eros.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    pgdata = own_data_dir / "pg16"
    url = f"http://127.0.0.1:{port}/comp/personas"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        deadline = time.monotonic() + 60
        first = None
        while time.monotonic() < deadline:
            try:
                first = httpx.get(url, headers=headers, timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert first is not None and first.status_code == 200, first and first.text
        assert first.json() == {"personas": []}

        old_pid = _postmaster_pid(pgdata)
        assert psutil.Process(old_pid).name() == "postgres"
        os.kill(old_pid, signal.SIGKILL)
        psutil.Process(old_pid).wait(10)
        # What a killed server leaves behind: its pid file and its socket file.
        assert (pgdata / "postmaster.pid").exists()
        assert (pgdata / ".s.PGSQL.5432").exists()

        killed_at = time.monotonic()
        seen = []
        while time.monotonic() - killed_at < RECOVERY_S:
            response = httpx.get(url, headers=headers, timeout=RECOVERY_S)
            seen.append(response.status_code)
            if response.status_code == 200:
                break
            # On the way back only the 503 of the one error shape is acceptable.
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "service_unavailable"
            time.sleep(0.2)
        recovered_after = time.monotonic() - killed_at

        assert seen[-1] == 200, seen
        assert response.json() == {"personas": []}
        assert recovered_after < RECOVERY_S
        new_pid = _postmaster_pid(pgdata)
        assert new_pid != old_pid and psutil.Process(new_pid).name() == "postgres"
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["database"] == "ok"
    finally:
        web.terminate()
        web.wait(20)


def test_a_socket_file_nobody_listens_on_is_not_a_running_server(tmp_path):
    # The state a killed postmaster leaves: the socket file exists, connecting is refused.
    directory = Path(tempfile.mkdtemp(prefix="eros-sock-", dir="/tmp"))
    try:
        path = directory / ".s.PGSQL.5432"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(1)
        assert accepts_connections(directory) is True
        listener.close()
        assert path.exists()
        assert accepts_connections(directory) is False
        assert accepts_connections(tmp_path / "missing") is False
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_ensure_server_restarts_a_killed_server_in_process(own_data_dir):
    pgdata = own_data_dir / "pg16"
    socket_dir = ensure_server(pgdata, max_connections=50)
    assert server_running(pgdata)
    assert (pgdata / "eros.conf").read_text() == "max_connections = 50\n"
    old_pid = _postmaster_pid(pgdata)
    os.kill(old_pid, signal.SIGKILL)
    psutil.Process(old_pid).wait(10)
    assert not server_running(pgdata)

    assert ensure_server(pgdata, max_connections=50) == socket_dir
    assert server_running(pgdata)
    assert _postmaster_pid(pgdata) != old_pid
    import psycopg

    with psycopg.connect(host=socket_dir, dbname="postgres", user="postgres") as conn:
        assert conn.execute("SHOW max_connections").fetchone() == ("50",)
