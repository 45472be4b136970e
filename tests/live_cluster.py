"""A live eros on 127.0.0.1 for tests: uvicorn (and optionally a django-q2 worker) as
subprocesses, on the test database, with the offline providers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.live import ROOT, UNLIMITED_ENV, free_port, test_database_url


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
            **UNLIMITED_ENV,
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
