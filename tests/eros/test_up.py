"""``manage.py up`` end to end: it starts, the curl example it prints gets a reply, production
prints no secret, and a signal to ``up`` stops every process it started."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from eros.db import server_running, stop_server
from eros.management.commands.token import DEV_USER_ID
from tests.commands import PRODUCTION, clean_env, manage
from tests.live import free_port, test_database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not Path("/usr/bin/curl").exists(), reason="needs curl")
def test_up_prints_a_curl_example_that_gets_a_reply():
    port = free_port()
    env = {**os.environ, "DATABASE_URL": test_database_url(), "DREAMING_DISABLED": "true"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--port", str(port), "--no-worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        curl = None
        while time.monotonic() < deadline and curl is None:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("curl "):
                curl = line.strip()
        assert curl, "no curl example printed:\n" + "".join(lines)
        assert any("eros is up" in line for line in lines)
        result = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30)
        body = json.loads(result.stdout)
        assert body["ghosted"] is False
        assert isinstance(body["reply"], str) and body["reply"].strip()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- start-up checks and stopping -----------------------------------------------------------

JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")


class UpProcess:
    """``manage.py up`` in a subprocess with its own data dir; output collected as it comes."""

    def __init__(self, data_dir: Path, env: dict[str, str], *args: str) -> None:
        self.data_dir, self.port = data_dir, free_port()
        self.pgdata = data_dir / "pg16"
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--port", str(self.port), *args],
            cwd=ROOT,
            env=clean_env(EROS_DATA_DIR=str(data_dir), Q_WORKERS="2", **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.recorded: list[psutil.Process] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.base = f"http://127.0.0.1:{self.port}"

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.proc.poll() is None, f"up exited early:\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} within {timeout}s:\n{self.output}"
            time.sleep(0.1)

    def tree(self) -> list[psutil.Process]:
        """``up`` and every process below it, once the django-q2 cluster is complete."""
        deadline = time.monotonic() + 60
        while True:
            top = psutil.Process(self.proc.pid)
            processes = [top, *top.children(recursive=True)]
            cluster = [p for p in processes if "qcluster" in " ".join(_cmdline(p))]
            if len(cluster) >= 5:  # cluster, sentinel, monitor, pusher and 2 workers
                self.recorded = processes
                return processes
            assert time.monotonic() < deadline, f"cluster incomplete: {cluster}\n{self.output}"
            time.sleep(0.2)

    def kill(self) -> None:
        """Last-resort clean-up after a failed assertion: nothing may outlive the test."""
        survivors = [*self.recorded, *_descendants(self.proc.pid)]
        if self.proc.poll() is None:
            survivors.append(psutil.Process(self.proc.pid))
        for process in survivors:
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.name() != "postgres":  # the server is stopped properly below
                    process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        with contextlib.suppress(Exception):
            stop_server(self.pgdata)


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _still_alive(processes: list[psutil.Process], within: float) -> list[psutil.Process]:
    """The processes still running (zombies count as gone) after waiting up to ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        alive = []
        for process in processes:
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except psutil.NoSuchProcess:
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


@pytest.fixture
def data_dir():
    """A short, fresh EROS_DATA_DIR (the server's socket path must stay under 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="eros-up-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _session_and_user_counts(pgdata: Path) -> tuple[int, int]:
    with psycopg.connect(host=str(pgdata), dbname="postgres", user="postgres") as conn:
        sessions = conn.execute(
            "SELECT count(*) FROM engine.chat_sessions WHERE user_id = %s", (DEV_USER_ID,)
        ).fetchone()[0]
        users = conn.execute("SELECT count(*) FROM engine.auth_user").fetchone()[0]
    return sessions, users


def test_production_up_prints_no_token_or_password_and_sigterm_stops_everything(data_dir):
    env = {k: v for k, v in PRODUCTION.items() if k not in ("OPENROUTER_API_KEY", "VOYAGE_API_KEY")}
    up = UpProcess(data_dir, env)
    try:
        up.wait_for("stops eros.")
        processes = up.tree()
        postmaster = [p for p in processes if str(up.pgdata) in " ".join(_cmdline(p))]
        assert postmaster, "up did not start the embedded server it was expected to"

        # Production: nothing minted, printed or stored for a development user.
        assert not JWT.search(up.output), up.output
        assert env["SUPABASE_JWT_SECRET"] not in up.output
        assert env["DJANGO_SECRET_KEY"] not in up.output
        assert "password" not in up.output.lower()
        assert "WARNING: production is running on the offline chat provider" in up.output
        assert _session_and_user_counts(up.pgdata) == (0, 0)
        assert not (data_dir / "admin_password").exists()
        assert not (data_dir / "jwt_dev_secret").exists()
        # HTTPS only behind the proxy, except the loopback health probe; no playground.
        health = httpx.get(f"{up.base}/healthz")
        assert health.status_code == 200 and len(health.json()["warnings"]) == 2
        redirect = httpx.get(f"{up.base}/comp/personas", headers={"Host": "eros.example.com"})
        assert redirect.status_code == 301
        assert redirect.headers["location"] == "https://eros.example.com/comp/personas"
        proxied = httpx.get(
            f"{up.base}/comp/personas",
            headers={"Host": "eros.example.com", "X-Forwarded-Proto": "https"},
        )
        assert proxied.status_code == 401 and proxied.json()["error"] == "unauthorized"
        assert "max-age=31536000" in proxied.headers["strict-transport-security"]
        playground = httpx.get(f"{up.base}/playground/", headers={"X-Forwarded-Proto": "https"})
        assert playground.status_code == 404

        started = time.monotonic()
        up.proc.send_signal(signal.SIGTERM)
        assert up.proc.wait(30) == 0
        assert _still_alive(processes, within=5) == []
        assert time.monotonic() - started < 15
        assert not server_running(up.pgdata)
    finally:
        up.kill()


def test_ctrl_c_stops_everything_even_while_a_worker_is_busy(data_dir):
    up = UpProcess(data_dir, {})
    try:
        up.wait_for("Ctrl+C stops eros.")
        assert JWT.search(up.output)  # development prints its token, as documented
        # A task that outlives the grace period: its worker cannot stop by itself in time.
        enqueue = manage(
            "shell",
            "-c",
            "from django_q.tasks import async_task; async_task('time.sleep', 120)",
            env=clean_env(EROS_DATA_DIR=str(data_dir)),
        )
        assert enqueue.returncode == 0, enqueue.stderr
        processes = up.tree()
        deadline = time.monotonic() + 30
        while not _task_taken(up.pgdata):
            assert time.monotonic() < deadline, "no worker picked the task up"
            time.sleep(0.2)
        time.sleep(1)  # from the pusher's queue into a worker

        started = time.monotonic()
        # What Ctrl-C delivers: the children run in their own process groups, so only up.
        up.proc.send_signal(signal.SIGINT)
        assert up.proc.wait(30) == 0
        assert _still_alive(processes, within=5) == []
        assert time.monotonic() - started < 20
        assert "stopped the embedded PostgreSQL" in up.output
        assert not server_running(up.pgdata)
    finally:
        up.kill()


def _task_taken(pgdata: Path) -> bool:
    """True once the cluster's pusher has taken the queued task (the ORM broker locks it)."""
    with psycopg.connect(host=str(pgdata), dbname="postgres", user="postgres") as conn:
        row = conn.execute("SELECT count(*) FROM engine.django_q_ormq WHERE lock IS NOT NULL")
        return row.fetchone()[0] > 0


def test_up_on_a_busy_port_stops_before_doing_anything(data_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = manage(
            "up", "--port", str(port), env=clean_env(EROS_DATA_DIR=str(data_dir)), timeout=60
        )
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert f"127.0.0.1:{port}" in line and "in use" in line
    assert not (data_dir / "pg16").exists()  # no database started, nothing migrated
