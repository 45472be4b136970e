"""Persona reads."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

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
