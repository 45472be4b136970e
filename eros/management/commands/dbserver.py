"""``python manage.py dbserver {status,start,stop}``: the embedded PostgreSQL server."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from eros.db import ensure_server, server_running, stop_server


class Command(BaseCommand):
    help = "Start, stop or show the embedded PostgreSQL server used when DATABASE_URL is unset."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "start", "stop"])

    def handle(self, *args, action, **options):
        db = settings.DATABASES["default"]
        pgdata = db.get("EMBEDDED_PGDATA")
        if not pgdata:
            raise CommandError("DATABASE_URL is set: eros is not using the embedded server")
        if action == "start":
            socket_dir = ensure_server(pgdata, max_connections=db.get("EMBEDDED_MAX_CONNECTIONS"))
            self.stdout.write(f"running; socket in {socket_dir}")
        elif action == "stop":
            stopped = stop_server(pgdata)
            self.stdout.write("stopped" if stopped else "was not running")
        else:
            running = server_running(pgdata)
            self.stdout.write(f"{'running' if running else 'stopped'}; data in {pgdata}")
