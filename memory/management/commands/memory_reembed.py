"""``python manage.py memory_reembed [--batch N] [--dim N]``: every memory, a new embedding model.

Re-embeds every memory (soft-deleted ones too: they can be restored) with the configured
embeddings provider (``EMBEDDINGS_PROVIDER``, ``EMBEDDINGS_BASE_URL``, ``EMBEDDINGS_MODEL``,
prefixes, ``EMBEDDINGS_INPUT_TYPE``) at ``--dim`` dimensions (default ``EMBEDDING_DIM``), then
puts the new vectors in place of the old ones, changing the column's size and rebuilding its
HNSW index when the size changes. How it stays safe while eros runs and after a crash:
:mod:`memory.services.reembed`. Run it again after an interruption: it continues where it
stopped. Progress on stderr, a summary on stdout.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from eros.llm.base import ProviderError
from eros.llm.providers import get_embedder
from memory.embedding_dim import embedding_column_dim, forget_fitting
from memory.management.progress import Progress
from memory.services.reembed import (
    ReembedError,
    reembed_abandon,
    reembed_batch,
    reembed_build_index,
    reembed_claim,
    reembed_remaining,
    reembed_start,
    reembed_swap,
    reembed_target,
)

#: Passes (each over the rows still without a new vector) before giving up on a table that
#: keeps changing faster than it can be re-embedded.
MAX_PASSES = 20
MAX_DIM = 2000  # pgvector's HNSW limit for vector columns


class Command(BaseCommand):
    help = "Re-embed every memory with the configured embeddings provider (any dimension)."
    # This command is the fix that system check memory.E001 names: it must run when it fails.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", type=int, default=64, help="memories per embeddings call (1-1000, 64)"
        )
        parser.add_argument(
            "--dim",
            type=int,
            default=None,
            help="dimension of the new vectors (default EMBEDDING_DIM)",
        )
        parser.add_argument(
            "--abandon",
            action="store_true",
            help="drop an unfinished run's new vectors instead (the live ones stay)",
        )

    def handle(self, *args, batch, dim, abandon, **options):
        if not reembed_claim():
            raise CommandError("another memory_reembed is running on this database")
        if abandon:
            reembed_abandon()
            self.stdout.write("memory_reembed: unfinished run abandoned; memories unchanged")
            return
        dim = dim or settings.EMBEDDING_DIM
        if not 1 <= dim <= MAX_DIM:
            raise CommandError(f"--dim {dim}: expected 1..{MAX_DIM} (HNSW's limit)")
        if not 1 <= batch <= 1000:
            raise CommandError(f"--batch {batch}: expected 1..1000")
        column = embedding_column_dim()
        if column is None:
            raise CommandError("companion_memories does not exist yet: run `manage.py migrate`")
        embedder = get_embedder(dim=dim)
        if getattr(embedder, "dim", dim) != dim:
            raise CommandError(f"the configured embedder makes {embedder.dim}-dimension vectors")
        target = reembed_target(embedder, dim)
        state = reembed_start(dim=dim, target=target)
        self.stderr.write(
            f"memory_reembed: {state.total} memories, vector({column}) -> vector({dim}) "
            f"with {target}"
        )
        if state.resumed:
            done = state.total - state.remaining
            self.stderr.write(f"memory_reembed: resuming, {done} already re-embedded")
        started = time.monotonic()
        try:
            embedded = self._run(embedder=embedder, dim=dim, batch=batch)
        except ProviderError as exc:
            raise CommandError(
                f"the embeddings provider failed: {exc}. Nothing is lost and eros keeps its "
                "current vectors; run the command again to continue."
            ) from exc
        except ReembedError as exc:
            raise CommandError(str(exc)) from exc
        forget_fitting()
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"memory_reembed: {embedded} memories re-embedded in {elapsed:.1f} s "
            f"({embedded / max(elapsed, 1e-9):.1f}/s); companion_memories.embedding is now "
            f"vector({dim}), made with {target}"
        )
        if dim != settings.EMBEDDING_DIM:
            self.stdout.write(f"Set EMBEDDING_DIM={dim} for eros.")
        self.stdout.write(
            "Restart eros's web and worker processes with these embedding settings now."
        )

    def _run(self, *, embedder, dim: int, batch: int) -> int:
        embedded = 0
        for number in range(1, MAX_PASSES + 1):
            remaining = reembed_remaining()
            if remaining:
                label = "re-embedding" if number == 1 else f"catching up (pass {number})"
                with Progress(label, remaining, stream=self.stderr) as bar:
                    after = None
                    while True:
                        step = reembed_batch(embedder=embedder, dim=dim, after=after, size=batch)
                        if step.last_id is None:
                            break
                        after = step.last_id
                        embedded += step.stored
                        bar.advance(step.read)
            reembed_build_index()
            if reembed_swap():
                return embedded
            # Rows written meanwhile (or the table lock was busy): another pass.
            time.sleep(0.2)
        raise CommandError(
            f"memories kept changing through {MAX_PASSES} passes; the new vectors are kept, run "
            "the command again (at a quieter time) to finish"
        )
