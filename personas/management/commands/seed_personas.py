"""``python manage.py seed_personas [DIR] [--card FILE]... [--dry-run]``: upsert personas by name.

DIR holds ``*.toml`` persona files and ``*.json``/``*.png`` character cards (V2/V3); ``--card``
adds single card files (with ``--card`` alone, DIR is not read).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from personas.loader import PersonaFileError
from personas.services import personas_seed


class Command(BaseCommand):
    help = (
        "Insert or refresh persona genomes from the *.toml files and *.json/*.png character "
        "cards of DIR (default: PERSONAS_DIR), and from --card files. Idempotent; every file "
        "is validated before anything is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", nargs="?", help="folder of persona files and cards")
        parser.add_argument(
            "--card",
            action="append",
            default=[],
            metavar="FILE",
            help="a Character Card V2/V3 (.png or .json) to import; repeatable. Without DIR, "
            "only these files are read.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would change; write nothing"
        )

    def handle(self, *args, directory=None, card=(), dry_run=False, **options):
        if directory:
            folder = Path(directory)
        else:
            folder = None if card else Path(settings.PERSONAS_DIR)
        try:
            outcomes = personas_seed(
                directory=folder, cards=[Path(c) for c in card], dry_run=dry_run
            )
        except PersonaFileError as exc:
            raise CommandError(f"nothing was written: {exc}") from exc
        prefix = "would be " if dry_run else ""
        for outcome in outcomes:
            self.stdout.write(f"{prefix}{outcome.action:>9}  {outcome.name}  ({outcome.path})")
        counts = {
            a: sum(o.action == a for o in outcomes) for a in ("inserted", "refreshed", "unchanged")
        }
        summary = ", ".join(f"{n} {a}" for a, n in counts.items())
        self.stdout.write(self.style.SUCCESS(f"{'dry run: ' if dry_run else ''}{summary}"))
