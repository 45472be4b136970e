"""A live eros on 127.0.0.1 for tests: uvicorn (and optionally a django-q2 worker) as
subprocesses, on the test database, with the offline providers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL naming the test database on whichever server the suite uses."""
    connection.ensure_connection()
    params = connection.get_connection_params()
    user = quote(params.get("user") or "postgres")
    password = quote(params.get("password") or "")
    host, port = params.get("host") or "", params.get("port") or ""
    dbname = params.get("dbname") or connection.settings_dict["NAME"]
    url = f"postgresql://{user}:{password}@/{dbname}?host={quote(str(host))}"
    return url + (f"&port={port}" if port else "")


test_database_url.__test__ = False  # a helper, not a test


class LiveEros:
    """``with LiveEros(worker=True) as live: httpx.get(live.url + "/healthz")``."""

    def __init__(self, *, worker: bool = False, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.worker = worker
        self.env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CHAT_PROVIDER": "offline",
            "EMBEDDINGS_PROVIDER": "local",
            "DREAMING_DISABLED": "true",
            "Q_POLL_S": "0.1",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> LiveEros:
        web = [
            sys.executable,
            "-m",
            "uvicorn",
            "eros.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--lifespan",
            "off",
            "--no-access-log",
        ]
        self.procs.append(subprocess.Popen(web, cwd=ROOT, env=self.env))
        if self.worker:
            worker = [sys.executable, "manage.py", "qcluster"]
            self.procs.append(subprocess.Popen(worker, cwd=ROOT, env=self.env))
        try:
            self._wait_healthy()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[0].poll() is not None:
                raise RuntimeError("the web server exited during start-up")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the web server did not become healthy within {timeout:.0f}s")

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
