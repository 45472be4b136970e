"""django-q2 worker processes run at a lower CPU priority than the web process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.live import ROOT

SPAWN = (
    "import os, django; django.setup(); "
    "from django_q.signals import post_spawn; "
    "post_spawn.send(sender='django_q', proc_name='Process-1'); "
    "print(os.nice(0))"
)


@pytest.mark.parametrize(("q_nice", "added"), [("7", 7), ("0", 0)])
def test_a_spawned_worker_lowers_its_priority_by_q_nice(q_nice, added):
    env = {**os.environ, "Q_NICE": q_nice, "DJANGO_SETTINGS_MODULE": "eros.settings"}
    result = subprocess.run(
        [sys.executable, "-c", SPAWN], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert int(result.stdout.strip()) == min(19, os.nice(0) + added)
