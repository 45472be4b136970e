"""``manage.py benchmark recall``: builds a synthetic data set in its own database and times it."""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from memory.models import CompanionMemory


@pytest.mark.django_db(transaction=True)
def test_benchmark_recall_builds_measures_and_leaves_the_current_database_alone():
    name = connection.settings_dict["NAME"]
    bench = f"{name}_recall_bench_{os.getpid()}"
    out = StringIO()
    call_command(
        "benchmark",
        "recall",
        "--memories=400",
        "--users=8",
        "--queries=30",
        "--warmup=5",
        f"--database={bench}",
        "--drop",
        stdout=out,
        stderr=StringIO(),
    )
    text = out.getvalue()
    assert "inserted 400 memories of 8 users" in text
    assert "data: 400 memories, 8 users" in text
    assert "full per-turn recall (hybrid), 30 turns: p50" in text
    assert "full per-turn recall (vector only), 30 turns: p50" in text
    assert "cross-user similar search (HNSW, k=10)" in text
    assert f"dropped database {bench}" in text
    assert connection.settings_dict["NAME"] == name
    assert CompanionMemory.objects.count() == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [bench])
        assert cursor.fetchone()[0] == 0
