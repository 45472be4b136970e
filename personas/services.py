"""Persona writes: seeding genomes from files and creating a user's instance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from django.db import IntegrityError, transaction

from personas.loader import PersonaSpec, load_persona_dir
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
        or genome.art_metadata != spec.art_metadata
        or not genome.is_active
    )


def personas_seed(*, directory: Path, dry_run: bool = False) -> list[SeedOutcome]:
    """Upsert every persona file of ``directory`` by name; all or nothing.

    Every file is validated before anything is written (a bad file raises
    ``personas.loader.PersonaFileError`` naming the path and field, and the database is left
    untouched); the writes then happen in one transaction. An existing genome keeps its id and
    has its prompt, tip personality, avatar, card and ``is_active=True`` refreshed (reference
    eros-engine-core.md §3). ``dry_run`` reports what would happen and writes nothing.
    """
    specs = load_persona_dir(directory)
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
                        art_metadata=spec.art_metadata,
                        is_active=True,
                    )
            elif _differs(genome, spec):
                action = "refreshed"
                if not dry_run:
                    genome.system_prompt = spec.system_prompt
                    genome.tip_personality = spec.tip_personality
                    genome.avatar_url = spec.avatar_url
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
