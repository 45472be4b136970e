"""``manage.py up`` end to end: it starts, and the curl example it prints gets a reply."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
