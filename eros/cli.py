"""The command line (``manage.py``): Django's, with configuration errors as one line.

A setting that eros refuses (``ImproperlyConfigured`` from settings, a malformed model
config, a provider without its key, an unsafe production value) ends the command with
``eros: configuration error: <what to fix>`` on stderr and exit code 2, instead of a
traceback. Other failures keep Django's behaviour.
"""

from __future__ import annotations

import os
import sys

#: Exit code for a configuration the operator has to fix (as for a command-line usage error).
CONFIG_ERROR_EXIT = 2


def config_error_line(exc: object) -> str:
    """The one-line message printed for a configuration error."""
    return "eros: configuration error: " + " ".join(str(exc).split())


def main(argv: list[str] | None = None) -> int:
    """Run a management command; return its exit code (2 for a configuration error)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eros.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        # Import settings now: Django would otherwise hide a refusal behind "Unknown command".
        settings.INSTALLED_APPS  # noqa: B018
    except (ImproperlyConfigured, ValueError) as exc:
        # A ValueError here is a value settings could not parse (a malformed DATABASE_URL).
        detail = exc if isinstance(exc, ImproperlyConfigured) else f"reading settings: {exc}"
        print(config_error_line(detail), file=sys.stderr)
        return CONFIG_ERROR_EXIT
    try:
        execute_from_command_line(argv or sys.argv)
    except ImproperlyConfigured as exc:
        print(config_error_line(exc), file=sys.stderr)
        return CONFIG_ERROR_EXIT
    return 0
