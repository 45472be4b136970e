"""``python manage.py token [--user UUID] [--ttl SECONDS]``: print a valid bearer token.

In development the user defaults to the development user; in production ``--user`` is
required, so no token for the development user is ever minted there.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from eros.auth import DEV_USER_ID, mint_token


def development_user() -> uuid.UUID:
    """:data:`DEV_USER_ID` in development; a CommandError in production (name a user)."""
    from django.conf import settings

    if settings.EROS_ENV != "development":
        raise CommandError("EROS_ENV=production has no development user: pass --user UUID")
    return DEV_USER_ID


class Command(BaseCommand):
    help = "Print an HS256 bearer token for a user (the development user by default)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--user",
            type=uuid.UUID,
            default=None,
            help="user id (UUID); the development user by default, required in production",
        )
        parser.add_argument("--ttl", type=int, default=7 * 24 * 3600, help="lifetime in seconds")

    def handle(self, *args, user, ttl, **options):
        if ttl <= 0:
            raise CommandError("--ttl must be positive")
        user = user or development_user()
        try:
            self.stdout.write(mint_token(user, ttl_s=ttl))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
