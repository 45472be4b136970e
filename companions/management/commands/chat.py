"""``python manage.py chat [--persona NAME] [--user UUID]``: chat with a persona in the terminal.

Runs the same engine as the API (same pipeline, same database), with post-process running
in-process so memories and affinity update between turns. Commands: ``/mood`` shows the
affinity vector, ``/memories`` what is remembered, ``/dream`` distils this chat into memories
now (as dreaming would once it went idle), ``/quit`` leaves.
"""

from __future__ import annotations

import uuid

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from eros.management.commands.token import development_user


class Command(BaseCommand):
    help = "Chat with a seeded persona in the terminal, through the real engine."

    def add_arguments(self, parser):
        parser.add_argument("--persona", help="persona name (default: the first by name)")
        parser.add_argument(
            "--user",
            type=uuid.UUID,
            default=None,
            help="user id (UUID); the development user by default, required in production",
        )

    def handle(self, *args, persona=None, user=None, **options):
        from django_q.conf import Conf

        from companions.scopes import resolve_affinity_scope, resolve_memory_scope
        from companions.services.chat_pipeline import turn_begin, turn_run
        from companions.services.sessions import session_start
        from personas.models import PersonaGenome
        from personas.selectors import persona_list_active

        user = user or development_user()
        Conf.SYNC = True  # post-process in this process: no worker needed for the terminal
        call_command("migrate", interactive=False, verbosity=0)
        if not PersonaGenome.objects.exists():
            call_command("seed_personas", verbosity=0)
        genomes = list(persona_list_active())
        if persona:
            matches = [g for g in genomes if g.name.lower() == persona.lower()]
            if not matches:
                names = ", ".join(g.name for g in genomes)
                raise CommandError(f"no active persona named {persona!r}; choose from {names}")
            genome = matches[0]
        elif genomes:
            genome = genomes[0]
        else:
            raise CommandError("no personas; run `python manage.py seed_personas` first")

        started = session_start(user_id=user, genome_id=genome.id)
        session = started.session
        state = "new chat" if started.is_new else "resuming your chat"
        self.stdout.write(
            self.style.SUCCESS(f"{genome.name} ({state}; /mood, /memories, /dream, /quit)")
        )
        if started.greeting is not None:
            self.stdout.write(f"{genome.name}> {started.greeting.content}")
        memory_scope, axes = resolve_memory_scope(None), resolve_affinity_scope(None)
        while True:
            try:
                text = input("you> ")
            except (EOFError, KeyboardInterrupt):
                self.stdout.write("")
                return
            if not text.strip():
                continue
            if text.strip() == "/quit":
                return
            if text.strip() == "/mood":
                self._mood(session)
                continue
            if text.strip() == "/memories":
                self._memories(session)
                continue
            if text.strip() == "/dream":
                self._dream(session)
                continue
            message = turn_begin(session=session, content=text)
            try:
                outcome = turn_run(
                    session=session,
                    user_message=message,
                    memory_scope=memory_scope,
                    affinity_axes=axes,
                )
            except Exception as exc:  # keep the terminal session alive; the message is stored
                self.stdout.write(self.style.ERROR(f"(no reply: {exc})"))
                continue
            if outcome.ghosted:
                self.stdout.write(self.style.WARNING(f"({genome.name} leaves you on read)"))
            else:
                self.stdout.write(f"{genome.name}> {outcome.reply}")

    def _mood(self, session) -> None:
        from companions.models import CompanionAffinity

        row = CompanionAffinity.objects.filter(session=session).first()
        if row is None:
            self.stdout.write("(no affinity yet)")
            return
        axes = ("warmth", "trust", "intrigue", "intimacy", "patience", "tension")
        values = "  ".join(f"{a} {getattr(row, a):+.3f}" for a in axes)
        self.stdout.write(f"({row.relationship_label}; {values}; ghosts {row.total_ghosts})")

    def _dream(self, session) -> None:
        from companions.services.dreaming import dreaming_distil_session
        from eros.errors import AppError

        try:
            outcome = dreaming_distil_session(session_id=session.id)
        except AppError as exc:
            self.stdout.write(self.style.WARNING(f"(dreaming: {exc.message})"))
            return
        self.stdout.write(
            f"(dreaming: {outcome.status}; {outcome.messages} message(s) -> "
            f"{outcome.created} new, {outcome.merged} merged memories)"
        )

    def _memories(self, session) -> None:
        from memory.models import CompanionMemory

        rows = CompanionMemory.objects.filter(
            user_id=session.user_id, deleted_at__isnull=True
        ).order_by("-created_at")[:10]
        for row in rows:
            layer = "profile" if row.instance_id is None else "relationship"
            self.stdout.write(f"  [{layer}/{row.category or 'raw'}] {row.content.splitlines()[0]}")
