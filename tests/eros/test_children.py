"""The processes ``up`` starts: stopped with everything they started, orphans included.

Each scenario runs in its own Python process, because becoming a subreaper changes how the
process that does it adopts orphans for the rest of its life.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import psutil

from tests.commands import ROOT


def _scenario(code: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_stop_kills_what_a_child_left_behind_when_it_would_not_stop():
    found = _scenario(
        """
        import json, time
        from pathlib import Path
        from eros.children import ChildProcesses, become_subreaper

        assert become_subreaper()
        children = ChildProcesses()
        # A child that orphans a process of its group, then ignores SIGTERM.
        children.start(["sh", "-c", "(sleep 120 &); trap '' TERM; sleep 120"], cwd=Path("."))
        time.sleep(0.5)
        tree = children.tree()
        names = sorted(p.name() for p in tree)
        started = time.monotonic()
        children.stop(grace_s=1)
        print(json.dumps({
            "pids": [p.pid for p in tree],
            "names": names,
            "seconds": time.monotonic() - started,
        }))
        """
    )
    assert found["names"] == ["sh", "sleep", "sleep"]  # the orphan is in the tree
    assert 1 <= found["seconds"] < 8
    assert not [pid for pid in found["pids"] if psutil.pid_exists(pid)]


def test_stop_returns_at_once_when_children_stop_by_themselves():
    found = _scenario(
        """
        import json, time
        from pathlib import Path
        from eros.children import ChildProcesses

        children = ChildProcesses()
        children.start(["sleep", "120"], cwd=Path("."))
        time.sleep(0.2)
        started = time.monotonic()
        children.stop(grace_s=10)
        print(json.dumps({"seconds": time.monotonic() - started,
                          "codes": [p.returncode for p in children.procs]}))
        """
    )
    assert found["seconds"] < 2
    assert found["codes"] == [-15]  # SIGTERM


def test_a_subreaper_collects_adopted_processes_that_exited():
    found = _scenario(
        """
        import json, subprocess, time
        import psutil
        from eros.children import ChildProcesses, become_subreaper

        assert become_subreaper()
        subprocess.run(["sh", "-c", "(sleep 0.2 &)"])  # the sleep is adopted by this process
        time.sleep(0.6)
        zombies = lambda: [c.pid for c in psutil.Process().children()
                           if c.status() == psutil.STATUS_ZOMBIE]
        before = zombies()
        ChildProcesses().reap_adopted()
        print(json.dumps({"before": len(before), "after": len(zombies())}))
        """
    )
    assert found == {"before": 1, "after": 0}
