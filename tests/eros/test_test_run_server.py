"""A test run stops the embedded PostgreSQL it started, and leaves one it found running."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from eros.db import server_running, stop_server
from tests.commands import ROOT, clean_env, manage


@pytest.fixture
def data_dir():
    path = Path(tempfile.mkdtemp(prefix="eros-run-", dir="/tmp"))
    yield path
    stop_server(path / "pg16")
    shutil.rmtree(path, ignore_errors=True)


def _postmasters(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and str(pgdata) in " ".join(
            process.info["cmdline"] or []
        ):
            found.append(process)
    return found


def _run_tests(data_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/eros/test_healthz.py",
        ],
        cwd=ROOT,
        env=clean_env(EROS_DATA_DIR=str(data_dir)),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_test_run_stops_the_embedded_server_only_when_it_started_it(data_dir):
    pgdata = data_dir / "pg16"
    result = _run_tests(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (pgdata / "PG_VERSION").exists()  # the run did start a server here
    assert not server_running(pgdata)
    assert _postmasters(pgdata) == []
    # Nothing is printed after pytest's summary line (CI reads it as the last line).
    assert result.stdout.rstrip().splitlines()[-1].startswith("1 passed"), result.stdout
    assert "Traceback" not in result.stderr, result.stderr

    started = manage("dbserver", "start", env=clean_env(EROS_DATA_DIR=str(data_dir)))
    assert started.returncode == 0, started.stderr
    result = _run_tests(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert server_running(pgdata)  # someone else's server is left as it was found
