"""Persona genomes (templates shared by the platform) and instances (one user's copy).

Tables ``engine.persona_genomes`` and ``engine.persona_instances``; columns, defaults and
constraints follow reference eros-engine-server.md §1.2.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models.functions import Now


class PersonaGenome(models.Model):
    """A persona template: name, system prompt, tip personality, greeting and the persona card.

    ``greeting`` (optional) is the persona's first message of every new session; it may hold
    the character-card placeholders ``{{user}}`` and ``{{char}}``.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID())
    name = models.TextField()
    system_prompt = models.TextField()
    tip_personality = models.TextField(null=True, blank=True)
    greeting = models.TextField(null=True, blank=True)
    avatar_url = models.TextField(null=True, blank=True)
    art_metadata = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True, db_default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())

    class Meta:
        db_table = "persona_genomes"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PersonaInstance(models.Model):
    """One user's copy of a genome; at most one per (genome, owner). Only ``active`` is live."""

    STATUS_ACTIVE = "active"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID())
    genome = models.ForeignKey(PersonaGenome, on_delete=models.PROTECT, related_name="instances")
    owner_uid = models.UUIDField()
    status = models.TextField(default=STATUS_ACTIVE, db_default=STATUS_ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())

    class Meta:
        db_table = "persona_instances"
        constraints = [
            models.UniqueConstraint(
                fields=["genome", "owner_uid"], name="persona_instances_genome_owner_key"
            )
        ]
        indexes = [models.Index(fields=["owner_uid"], name="idx_persona_instances_owner")]

    def __str__(self) -> str:
        return f"{self.genome_id} for {self.owner_uid}"
