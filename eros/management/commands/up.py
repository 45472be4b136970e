"""``python manage.py up``: migrate, seed personas, start the web server and a worker.

With nothing configured this brings up the whole engine on this machine: the embedded
database, the offline model providers, a development JWT secret, uvicorn (ASGI) on port 8080,
one django-q2 cluster with the dreaming schedule, and prints a token with a curl example that
works when pasted. With ``EROS_ENV=production`` it mints, prints and stores nothing for a
development user: no token, no session, no operator password.

It checks its port before anything else (exit code 2 when it is taken). Ctrl-C, SIGINT or
SIGTERM to this process stops everything it started within seconds: the web server, every
django-q2 process, and the embedded PostgreSQL when this command started it.
"""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connections

from eros.auth import DEV_USER_ID
from eros.children import ChildProcesses, become_subreaper
from eros.cli import CONFIG_ERROR_EXIT
from eros.db import server_running, stop_server
from eros.llm.providers import chat_provider_name, embeddings_provider_name
from eros.production import production_warnings

BASE_DIR = Path(settings.BASE_DIR)


def wait_healthy(base: str, web: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until ``{base}/healthz`` answers 200; CommandError if ``web`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise CommandError("the web server exited during start-up (see its output above)")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise CommandError(f"the web server did not become healthy within {timeout:.0f}s")


def port_unavailable(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (e.g. "Address already in use"), or None.

    Binds and closes a socket the way uvicorn will (``SO_REUSEADDR``, so a port in TIME_WAIT
    counts as free).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve {host}: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _interrupted(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Migrate, seed personas, then run the web server (uvicorn) and a django-q2 worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 in Docker)")
        parser.add_argument("--port", type=int, default=8080)
        parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
        parser.add_argument("--no-worker", action="store_true", help="do not start django-q2")
        parser.add_argument(
            "--skip-seed", action="store_true", help="do not seed personas from PERSONAS_DIR"
        )

    def _step(self, text: str) -> float:
        self.stdout.write(f"- {text} ...")
        return time.perf_counter()

    def _done(self, started: float, extra: str = "") -> None:
        self.stdout.write(f"  done in {time.perf_counter() - started:.1f}s {extra}".rstrip())

    def handle(self, *args, host, port, workers, no_worker, skip_seed, **options):
        t0 = time.perf_counter()
        # Before anything else: a second `up` must not migrate, print a banner or mint a token.
        problem = port_unavailable(host, port)
        if problem:
            raise CommandError(
                f"cannot listen on {host}:{port}: {problem} (another eros? choose --port)",
                returncode=CONFIG_ERROR_EXIT,
            )
        # Handle both explicitly: a shell's background job starts with SIGINT ignored, and
        # systemd or supervisord stop a service with SIGTERM.
        signal.signal(signal.SIGINT, _interrupted)
        signal.signal(signal.SIGTERM, _interrupted)
        become_subreaper()
        db = settings.DATABASES["default"]
        pgdata = db.get("EMBEDDED_PGDATA")
        # Stop at exit only an embedded server that this command starts.
        owns_server = bool(pgdata) and not server_running(pgdata)
        children = ChildProcesses()
        try:
            self._run(
                children,
                t0=t0,
                host=host,
                port=port,
                workers=workers,
                no_worker=no_worker,
                skip_seed=skip_seed,
            )
        except KeyboardInterrupt:
            self.stdout.write("\nstopping ...")
        finally:
            # A second Ctrl-C or SIGTERM must not cut the clean-up short; it is bounded anyway.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            children.stop()
            connections.close_all()
            if owns_server and stop_server(pgdata):
                self.stdout.write(f"stopped the embedded PostgreSQL in {pgdata}")

    def _run(self, children, *, t0, host, port, workers, no_worker, skip_seed) -> None:
        db = settings.DATABASES["default"]
        where = (
            f"embedded PostgreSQL in {db['EMBEDDED_PGDATA']}"
            if db.get("EMBEDDED_PGDATA")
            else f"{db.get('HOST') or 'local socket'}/{db.get('NAME')}"
        )
        started = self._step(f"database: {where}; applying migrations")
        try:
            call_command("migrate", interactive=False, verbosity=0)
        except OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CommandError(f"cannot reach the database ({where}): {reason}") from exc
        self._done(started)

        if not skip_seed:
            started = self._step(f"seeding personas from {settings.PERSONAS_DIR}")
            call_command("seed_personas", str(settings.PERSONAS_DIR), verbosity=0, stdout=_Null())
            self._done(started)

        if not no_worker:
            started = self._step("scheduling dreaming")
            from companions.services.dreaming import dreaming_schedule_ensure

            self._done(started, dreaming_schedule_ensure())
            started = self._step("scheduling the stuck-turn sweeper")
            from companions.services.turn_sweeper import turn_sweep_schedule_ensure

            self._done(started, turn_sweep_schedule_ensure())

        chat, emb = chat_provider_name(), embeddings_provider_name()
        if chat == "offline" or emb == "local":
            self.stdout.write(
                self.style.WARNING(
                    f"  providers: chat={chat}, embeddings={emb} "
                    "(offline: deterministic replies, no API keys needed)"
                )
            )
        for warning in production_warnings():
            self.stdout.write(self.style.ERROR(f"  WARNING: {warning}"))

        web_cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "eros.asgi:application",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--lifespan",
            "off",
            "--no-access-log",
        ]
        started = self._step(f"starting web server on http://{host}:{port}")
        web = children.start(web_cmd, cwd=BASE_DIR)
        if not no_worker:
            children.start([sys.executable, "manage.py", "qcluster"], cwd=BASE_DIR)

        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        wait_healthy(base, web)
        self._done(started)
        self._print_welcome(base, time.perf_counter() - t0)
        # From here on this process only watches its children: give its database connection
        # (and its pool's) back, so the server's connections are the web pool and the workers'.
        for conn in connections.all():
            conn.close()
            if hasattr(conn, "close_pool"):
                conn.close_pool()
        while not children.exited():
            children.reap_adopted()
            time.sleep(0.5)
        failed = [p.args for p in children.exited() if p.returncode != 0]
        if failed:
            raise CommandError(f"a child process exited: {failed[0]}")

    def _print_welcome(self, base: str, elapsed: float) -> None:
        from companions.services.sessions import session_start
        from eros.auth import mint_token
        from personas.selectors import persona_list_active

        self.stdout.write(self.style.SUCCESS(f"\neros is up in {elapsed:.1f}s: {base}"))
        self.stdout.write(
            f"  health: {base}/healthz    API docs: {base}/docs    admin: {base}/admin/"
        )
        if settings.EROS_PLAYGROUND:
            self.stdout.write(f"  playground: {base}/playground/")
        self.stdout.write(f"  {operator_account_note()}")
        if settings.EROS_ENV != "development":
            # Production mints, prints and stores nothing for a development user.
            self.stdout.write(
                "  tokens: issued by your identity provider (SUPABASE_URL, SUPABASE_JWKS_URL or "
                "SUPABASE_JWT_SECRET)\nSIGTERM or Ctrl+C stops eros."
            )
            return
        persona = persona_list_active().first()
        try:
            token = mint_token(DEV_USER_ID)
        except Exception as exc:  # JWKS-only deployments cannot mint tokens
            self.stdout.write(f"  (no token printed: {exc})")
            return
        self.stdout.write(f"\nA token for the development user {DEV_USER_ID}:\n\n{token}\n")
        if persona is None:
            self.stdout.write(
                "No personas are seeded; add some with `manage.py seed_personas DIR`."
            )
            return
        session = session_start(user_id=DEV_USER_ID, genome_id=persona.id).session
        body = json.dumps(
            {"message": f"Hi {persona.name}! I just moved to Lisbon and I love the sea."}
        )
        curl = (
            f"curl -s -X POST {base}/comp/chat/{session.id}/message "
            f"-H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
            f"-d {shlex.quote(body)}"
        )
        self.stdout.write(f"Say hello to {persona.name} (paste this):\n\n{curl}\n")
        self.stdout.write("Or chat in the terminal: python manage.py chat\nCtrl+C stops eros.")


OPERATOR_USERNAME = "admin"
OPERATOR_PASSWORD_FILE = "admin_password"


def operator_account_note() -> str:
    """Ensure a development operator account and say how to log in to admin.

    Development only (``EROS_ENV=development``) and only while no superuser exists: creates
    superuser ``admin`` with a generated password kept in ``EROS_DATA_DIR/admin_password``
    (mode 0600). Otherwise says how to create or find an operator account.
    """
    from django.contrib.auth import get_user_model

    from eros.env import data_secret

    users = get_user_model()
    if settings.EROS_ENV != "development":
        return "operators: create an admin account with `python manage.py createsuperuser`"
    path = Path(settings.EROS_DATA_DIR) / OPERATOR_PASSWORD_FILE
    no_operator = not users.objects.filter(is_superuser=True).exists()
    if no_operator and not users.objects.filter(username=OPERATOR_USERNAME).exists():
        password = data_secret(settings.EROS_DATA_DIR, OPERATOR_PASSWORD_FILE)
        users.objects.create_superuser(OPERATOR_USERNAME, password=password)
    operator = users.objects.filter(username=OPERATOR_USERNAME, is_superuser=True).first()
    if operator is not None and path.exists():
        password = path.read_text().strip()
        if operator.check_password(password):
            return f"admin login: {OPERATOR_USERNAME} / {password}  (kept in {path})"
    return "admin login: your superuser (or `python manage.py createsuperuser`)"


class _Null:
    def write(self, *_):
        pass

    def flush(self):
        pass
