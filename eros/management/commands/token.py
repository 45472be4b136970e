"""``python manage.py token [--user UUID] [--ttl SECONDS]``: print a valid bearer token."""

from __future__ import annotations

import uuid

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from eros.auth import DEV_USER_ID, mint_token

#: The user that development tokens belong to when none is given.


class Command(BaseCommand):
    help = "Print an HS256 bearer token for a user (the development user by default)."

    def add_arguments(self, parser):
        parser.add_argument("--user", type=uuid.UUID, default=DEV_USER_ID, help="user id (UUID)")
        parser.add_argument("--ttl", type=int, default=7 * 24 * 3600, help="lifetime in seconds")

    def handle(self, *args, user, ttl, **options):
        if ttl <= 0:
            raise CommandError("--ttl must be positive")
        try:
            self.stdout.write(mint_token(user, ttl_s=ttl))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
