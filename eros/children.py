"""The processes ``manage.py up`` starts (web server, django-q2 cluster), stopped together.

Each child runs in its own process group. A Ctrl-C at the terminal then reaches ``up``
alone, which stops the children in order, instead of hitting every process of the
django-q2 cluster at once. :meth:`ChildProcesses.stop` asks each child to stop (SIGTERM:
uvicorn closes its connections, the django-q2 cluster stops its sentinel, pusher, monitor and
workers), waits up to ``grace_s``, then kills whatever is left of each child's process tree
and process group. A worker killed mid-task is redelivered by the broker after ``Q_RETRY_S``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

#: Seconds a child gets to stop by itself before its whole tree is killed.
STOP_GRACE_S = 5.0


#: prctl(2) option: orphaned descendants are re-parented to this process instead of init.
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt this process's orphaned descendants (Linux); return True when it worked.

    A django-q2 worker whose cluster process died then stays in ``up``'s process tree, where
    :meth:`ChildProcesses.stop` finds and reaps it, instead of going to init (which, as PID 1
    of some containers, never reaps it).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class ChildProcesses:
    """Child processes of one command, each in its own process group."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], *, cwd: Path) -> subprocess.Popen:
        """Start ``args`` in a new process group (same session, so output still shows)."""
        proc = subprocess.Popen(args, cwd=cwd, process_group=0)
        self.procs.append(proc)
        return proc

    def exited(self) -> list[subprocess.Popen]:
        """The children that have exited (by themselves or not)."""
        return [proc for proc in self.procs if proc.poll() is not None]

    def reap_adopted(self) -> None:
        """Collect exited processes this one adopted as a subreaper (an embedded PostgreSQL
        that stopped, say), so that no zombies pile up; the children's own exit codes are
        left for :meth:`exited`."""
        tracked = {proc.pid for proc in self.procs}
        for child in psutil.Process().children():
            try:
                if child.pid not in tracked and child.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(child.pid, os.WNOHANG)
            except (psutil.NoSuchProcess, ChildProcessError):
                continue

    def tree(self) -> list[psutil.Process]:
        """Every live process of the children's process groups below this one: the children,
        their descendants and, when this process is a subreaper, orphans they left behind.

        A process that left those groups (the embedded PostgreSQL starts in its own session)
        is not counted: it is not the children's to stop.
        """
        groups = {proc.pid for proc in self.procs}
        found = {}
        roots = [psutil.Process()]
        for proc in self.procs:
            try:
                roots.append(psutil.Process(proc.pid))
            except psutil.NoSuchProcess:
                continue
        for root in roots:
            try:
                descendants = root.children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            for process in descendants:
                try:
                    if os.getpgid(process.pid) in groups:
                        found.setdefault(process.pid, process)
                except ProcessLookupError:
                    continue
        return list(found.values())

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop every child and every process it started; returns when all are gone.

        SIGTERM to each child, up to ``grace_s`` for them to stop, then SIGKILL to what is left
        (recorded descendants, and each child's process group for any started since).
        """
        # Recorded first: once a child exits, its orphans no longer show as its descendants.
        tops = {proc.pid for proc in self.procs}
        others = [process for process in self.tree() if process.pid not in tops]
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace_s
        for proc in self.procs:  # waited through Popen, which keeps their exit codes
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        _, alive = psutil.wait_procs(others, timeout=max(0.0, deadline - time.monotonic()))
        if not alive and not any(proc.poll() is None for proc in self.procs):
            return
        for proc in self.procs:
            try:
                # The group id is the child's pid; the kernel does not reuse it while any
                # member of the group is alive.
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for process in alive:
            try:
                process.kill()  # psutil checks the process is still the one recorded
            except psutil.NoSuchProcess:
                pass
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        psutil.wait_procs(alive, timeout=5)
