"""Persona reads."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.utils.text import slugify

from personas.models import PersonaGenome, PersonaInstance


def persona_list_active() -> QuerySet[PersonaGenome]:
    """Active genomes ordered by name (reference server §2.6 ``list_active``)."""
    return PersonaGenome.objects.filter(is_active=True).order_by("name")


def persona_load_companion(*, instance_id: uuid.UUID) -> PersonaInstance | None:
    """The active instance with its genome (one query), or None (reference ``load_companion``)."""
    return (
        PersonaInstance.objects.select_related("genome")
        .filter(id=instance_id, status=PersonaInstance.STATUS_ACTIVE)
        .first()
    )


def persona_instance_owned(*, instance_id: uuid.UUID, owner_uid: uuid.UUID) -> bool:
    """True when ``owner_uid`` owns the persona instance ``instance_id`` (any status). One query."""
    return PersonaInstance.objects.filter(id=instance_id, owner_uid=owner_uid).exists()


def persona_models() -> list[tuple[str, PersonaGenome]]:
    """The active genomes with their model id, ordered by name: ``[(model_id, genome)]``.

    The model id is how OpenAI-compatible clients name a persona: the slug of its name
    (``"Juno"`` → ``juno``; lowercase ASCII letters, digits and hyphens). When several active
    genomes share a slug, the oldest keeps it and the others get ``<slug>-<first 8 hex digits
    of the genome id>``, so adding a persona never renames an existing one; a name with no
    ASCII letters or digits uses the genome id itself. One query.
    """
    genomes = list(persona_list_active())
    slugs = {genome.id: slugify(genome.name) for genome in genomes}
    owners: dict[str, uuid.UUID] = {}
    for genome in sorted(genomes, key=lambda g: (g.created_at, str(g.id))):
        owners.setdefault(slugs[genome.id], genome.id)
    models = []
    for genome in genomes:
        slug = slugs[genome.id]
        if not slug:
            model_id = str(genome.id)
        elif owners[slug] == genome.id:
            model_id = slug
        else:
            model_id = f"{slug}-{genome.id.hex[:8]}"
        models.append((model_id, genome))
    return models


def persona_for_model(*, model_id: str) -> tuple[str, PersonaGenome] | None:
    """The active genome an OpenAI-compatible ``model`` names, with its model id, or None.

    ``model_id`` may be the model id of :func:`persona_models` (any letter case), the
    persona's name (slugified the same way), or the genome id (a UUID).
    """
    wanted = model_id.strip()
    try:
        genome_id = uuid.UUID(wanted)
    except ValueError:
        genome_id = None
    candidates = {wanted.lower(), slugify(wanted)}
    for known_id, genome in persona_models():
        if genome.id == genome_id or known_id in candidates:
            return known_id, genome
    return None
