"""Persona writes: seeding genomes from persona files and character cards, and creating a
user's instance."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.db import IntegrityError, transaction

from personas.cards import load_persona_sources, parse_card
from personas.loader import PersonaSpec
from personas.models import PersonaGenome, PersonaInstance


@dataclass(frozen=True)
class SeedOutcome:
    """What seeding did to one file: ``inserted``, ``refreshed`` or ``unchanged``."""

    name: str
    path: Path
    action: str
    genome_id: uuid.UUID | None


def _differs(genome: PersonaGenome, spec: PersonaSpec) -> bool:
    return (
        genome.system_prompt != spec.system_prompt
        or genome.tip_personality != spec.tip_personality
        or genome.avatar_url != spec.avatar_url
        or genome.greeting != spec.greeting
        or genome.art_metadata != spec.art_metadata
        or not genome.is_active
    )


def personas_seed(
    *, directory: Path | None = None, cards: Iterable[Path] = (), dry_run: bool = False
) -> list[SeedOutcome]:
    """Upsert every persona of ``directory`` and of the ``cards`` files by name; all or nothing.

    ``directory`` holds ``*.toml`` persona files and ``*.json``/``*.png`` character cards
    (:mod:`personas.cards`); ``cards`` names more card (or ``.toml``) files. Every file is
    validated before anything is written (a bad file raises
    ``personas.loader.PersonaFileError`` naming the path and field, and the database is left
    untouched); the writes then happen in one transaction. An existing genome keeps its id and
    has its prompt, tip personality, avatar, greeting, card and ``is_active=True`` refreshed
    (reference eros-engine-core.md §3). ``dry_run`` reports what would happen and writes
    nothing.
    """
    specs = load_persona_sources(directory, cards)
    return personas_upsert(specs=specs, dry_run=dry_run)


def persona_import_card(*, data: bytes, filename: str) -> SeedOutcome:
    """Upsert the genome of one character card (the bytes of a ``.png`` or ``.json`` file).

    ``filename`` names the file in errors and in the outcome. Raises
    ``personas.loader.PersonaFileError`` naming the field of a bad card (nothing is written).
    """
    spec = parse_card(data, filename)
    return personas_upsert(specs=[spec])[0]


def personas_upsert(*, specs: Sequence[PersonaSpec], dry_run: bool = False) -> list[SeedOutcome]:
    """Insert or refresh one genome per spec, matched by name, in one transaction.

    Precondition: the names are distinct (the loaders check it). Returns one outcome per spec,
    in order.
    """
    outcomes: list[SeedOutcome] = []
    with transaction.atomic():
        existing = {
            g.name: g
            for g in PersonaGenome.objects.select_for_update().filter(
                name__in=[s.name for s in specs]
            )
        }
        for spec in specs:
            genome = existing.get(spec.name)
            if genome is None:
                action = "inserted"
                if not dry_run:
                    genome = PersonaGenome.objects.create(
                        name=spec.name,
                        system_prompt=spec.system_prompt,
                        tip_personality=spec.tip_personality,
                        avatar_url=spec.avatar_url,
                        greeting=spec.greeting,
                        art_metadata=spec.art_metadata,
                        is_active=True,
                    )
            elif _differs(genome, spec):
                action = "refreshed"
                if not dry_run:
                    genome.system_prompt = spec.system_prompt
                    genome.tip_personality = spec.tip_personality
                    genome.avatar_url = spec.avatar_url
                    genome.greeting = spec.greeting
                    genome.art_metadata = spec.art_metadata
                    genome.is_active = True
                    genome.save()
            else:
                action = "unchanged"
            outcomes.append(
                SeedOutcome(spec.name, spec.path, action, genome.id if genome else None)
            )
    return outcomes


def instance_get_or_create(*, genome: PersonaGenome, owner_uid: uuid.UUID) -> PersonaInstance:
    """The owner's instance of ``genome``, created if missing (race-free on the unique pair).

    Returns the existing instance whatever its status; callers decide what a non-active
    instance means.
    """
    instance = PersonaInstance.objects.filter(genome=genome, owner_uid=owner_uid).first()
    if instance is not None:
        return instance
    try:
        with transaction.atomic():
            return PersonaInstance.objects.create(genome=genome, owner_uid=owner_uid)
    except IntegrityError:
        return PersonaInstance.objects.get(genome=genome, owner_uid=owner_uid)


def persona_instances_erase_user(*, owner_uid: uuid.UUID) -> int:
    """Delete the persona instances owned by ``owner_uid``; returns how many went."""
    _, per_model = PersonaInstance.objects.filter(owner_uid=owner_uid).delete()
    return per_model.get(PersonaInstance._meta.label, 0)
