"""django-q2 cluster processes run at a lower CPU priority than the web process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.live import ROOT

START = "import os, sys; sys.argv = {argv!r}; import django; django.setup(); print(os.nice(0))"


@pytest.mark.parametrize(
    ("argv", "q_nice", "added"),
    [
        (["manage.py", "qcluster"], "7", 7),
        (["manage.py", "qcluster"], "0", 0),
        (["manage.py", "migrate"], "7", 0),
    ],
    ids=["qcluster", "qcluster-q-nice-0", "other-command"],
)
def test_a_cluster_process_lowers_its_priority_by_q_nice_before_it_forks(argv, q_nice, added):
    env = {**os.environ, "Q_NICE": q_nice, "DJANGO_SETTINGS_MODULE": "eros.settings"}
    code = START.format(argv=argv)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert int(result.stdout.strip()) == min(19, os.nice(0) + added)
