"""The embedded PostgreSQL bootstrap: stale pid files after a crash."""

from __future__ import annotations

import subprocess

from eros.db import drop_stale_pidfile


def test_a_pidfile_naming_another_process_is_removed(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / "postmaster.pid").write_text(f"{sleeper.pid}\n{tmp_path}\n")
        assert drop_stale_pidfile(tmp_path) is True
        assert not (tmp_path / "postmaster.pid").exists()
        assert sleeper.poll() is None  # the unrelated process is left alone
    finally:
        sleeper.kill()


def test_a_pidfile_naming_a_dead_pid_is_removed(tmp_path):
    (tmp_path / "postmaster.pid").write_text("999999999\n")
    assert drop_stale_pidfile(tmp_path) is True


def test_no_pidfile_is_nothing_to_do(tmp_path):
    assert drop_stale_pidfile(tmp_path) is False


def test_the_running_servers_pidfile_is_kept(settings):
    from pathlib import Path

    from eros.db import ensure_server

    pgdata = settings.DATABASES["default"].get("EMBEDDED_PGDATA")
    if not pgdata:  # DATABASE_URL in use: no embedded server to check
        return
    ensure_server(pgdata)
    assert drop_stale_pidfile(Path(pgdata).resolve()) is False
    assert (Path(pgdata) / "postmaster.pid").exists()
