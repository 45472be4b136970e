"""A live eros web process for tests: uvicorn in a subprocess on 127.0.0.1, on the test database.

The process runs ``tests.scripted_asgi:application``: eros itself with a scripted chat model
(see that module), because a subprocess cannot be handed a Python fake. Tests that use it
need ``@pytest.mark.django_db(transaction=True)`` so their rows are committed and visible.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
#: Web processes started by tests are not rate limited unless a test asks for it.
UNLIMITED_ENV = {"API_RATE_LIMIT": "off", "API_RATE_LIMIT_IP": "off"}


def _ephemeral_ports() -> range:
    """The ports the kernel hands to outgoing connections (Linux's range, or the IANA one)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(49152, 65536)


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on, outside the ephemeral range.

    A port the kernel picks for ``bind(("127.0.0.1", 0))`` comes from the range it also gives
    outgoing connections (to the database, between test clients), so one of those can take
    it between this check and the server's own bind; ports below that range are only ever
    taken by a listener.
    """
    ephemeral = _ephemeral_ports()
    for _ in range(100):
        port = random.randrange(20000, 32768)
        if port in ephemeral:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """A DATABASE_URL naming the test database on whichever server the suite uses."""
    from django.db import connection

    connection.ensure_connection()
    params = connection.get_connection_params()
    user = quote(params.get("user") or "postgres")
    password = quote(params.get("password") or "")
    host, port = params.get("host") or "", params.get("port") or ""
    dbname = params.get("dbname") or connection.settings_dict["NAME"]
    url = f"postgresql://{user}:{password}@/{dbname}?host={quote(str(host))}"
    return url + (f"&port={port}" if port else "")


test_database_url.__test__ = False  # a helper, not a test


@dataclass
class LiveServer:
    """A running web process: ``base`` URL, and the script file its chat model reads."""

    base: str
    script_path: Path
    log_path: Path
    process: subprocess.Popen
    output: list[str] = field(default_factory=list)

    def script(
        self, chunks: list[str], *, delay_s: float = 0.0, fail_after: int | None = None
    ) -> None:
        """What the next chat calls answer: these chunks, ``delay_s`` apart, failing after
        ``fail_after`` chunks when given. Clears the stream log."""
        self.script_path.write_text(
            json.dumps({"chunks": chunks, "delay_s": delay_s, "fail_after": fail_after})
        )
        self.log_path.write_text("")

    def streams(self) -> list[dict]:
        """One record per streamed chat call since the last :meth:`script`, once it ended:
        ``{yielded, finished, failed, closed}``."""
        text = self.log_path.read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start_live_server(directory: Path, *, database_url: str, env: dict | None = None) -> LiveServer:
    """Start the scripted eros web process and wait until ``/healthz`` answers."""
    port = free_port()
    script_path, log_path = directory / "chat_script.json", directory / "streams.jsonl"
    script_path.write_text(json.dumps({"chunks": ["hello"]}))
    log_path.write_text("")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.scripted_asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "EMBEDDINGS_PROVIDER": "local",
            "EROS_TEST_CHAT_SCRIPT": str(script_path),
            "EROS_TEST_STREAM_LOG": str(log_path),
            **UNLIMITED_ENV,
            **(env or {}),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", script_path, log_path, process)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("web process exited:\n" + process.stdout.read())
        try:
            if httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("web process did not become healthy")


def read_events(response: httpx.Response):
    """Parse a ``text/event-stream`` body as it arrives: yields ``(name, data, at)``, where
    ``data`` is the decoded JSON and ``at`` the ``time.monotonic()`` of arrival."""
    name, data = None, []
    for line in response.iter_lines():
        if line == "":
            if name is not None:
                yield name, json.loads("\n".join(data)), time.monotonic()
            name, data = None, []
        elif line.startswith("event:"):
            name = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].strip())
