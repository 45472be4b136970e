"""``python manage.py dbserver {status,start,stop}``: the embedded PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from eros.db import ensure_server, stop_server


class Command(BaseCommand):
    help = "Start, stop or show the embedded PostgreSQL server used when DATABASE_URL is unset."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "start", "stop"])

    def handle(self, *args, action, **options):
        pgdata = settings.DATABASES["default"].get("EMBEDDED_PGDATA")
        if not pgdata:
            raise CommandError("DATABASE_URL is set: eros is not using the embedded server")
        if action == "start":
            self.stdout.write(f"running; socket in {ensure_server(pgdata)}")
        elif action == "stop":
            stopped = stop_server(pgdata)
            self.stdout.write("stopped" if stopped else "was not running")
        else:
            running = (Path(pgdata) / "postmaster.pid").exists()
            self.stdout.write(f"{'running' if running else 'stopped'}; data in {pgdata}")
