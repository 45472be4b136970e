"""Two-layer long-term memory in one pgvector table (DESIGN §3, §7).

``instance_id IS NULL`` is the *profile* layer (about the user, shared across personas);
non-null is the *relationship* layer (user × persona instance). ``pinned`` rows are
user-authored (no session) and outrank the others in recall. ``category`` is NULL for raw
turn rows and one of :data:`CATEGORIES` for distilled ones. ``embedding`` has
``EMBEDDING_DIM`` dimensions (``memory.embedding_dim`` checks the database agrees).

Facts change: a row whose ``valid_to`` is set was superseded by ``superseded_by`` (DESIGN §7);
it keeps its text for the record (admin shows the chain) and recall skips it by default.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.functions import RandomUUID
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone
from pgvector.django import HnswIndex, VectorField

from memory.fields import RegConfigField

CATEGORIES = ("fact", "preference", "event", "emotion", "relation")
LAYER_PROFILE = "profile"
LAYER_RELATIONSHIP = "relationship"
LAYERS = (LAYER_PROFILE, LAYER_RELATIONSHIP)
#: Text-search configuration of rows whose language is unknown: no stemming, no stopwords.
TEXT_SEARCH_CONFIG = "simple"


class MemoryQuerySet(models.QuerySet):
    def current(self, user_id: uuid.UUID, instance_id: uuid.UUID | None = None):
        """The current (not forgotten, not superseded) memories of one user in one layer:
        the profile layer for ``instance_id`` None, else that persona instance's
        relationship layer."""
        rows = self.filter(user_id=user_id, deleted_at__isnull=True, valid_to__isnull=True)
        if instance_id is None:
            return rows.filter(instance_id__isnull=True)
        return rows.filter(instance_id=instance_id)


class CompanionMemory(models.Model):
    """One remembered item with its embedding and the messages it came from."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID())
    #: The chat session it was distilled from; None for a memory the user wrote (``pinned``).
    session = models.ForeignKey(
        "companions.ChatSession",
        on_delete=models.CASCADE,
        related_name="memories",
        null=True,
        blank=True,
    )
    user_id = models.UUIDField()
    instance_id = models.UUIDField(null=True, blank=True)
    content = models.TextField()
    embedding = VectorField(dimensions=settings.EMBEDDING_DIM)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    category = models.TextField(null=True, blank=True)
    # eros additions
    source_message_ids = ArrayField(models.UUIDField(), default=list, blank=True)
    importance = models.FloatField(null=True, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_default=Now())
    deleted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now, db_default=Now())
    #: Added or edited by the user (``POST``/``PATCH …/memories``): recalled before the others.
    pinned = models.BooleanField(default=False, db_default=False)
    #: What this memory is a value of, when slot rules can tell (``memory.slots``): ``city``,
    #: ``occupation``, ``pet:dog``, ``concern:surgery``… A newer memory of the same slot with
    #: another value supersedes it.
    slot = models.TextField(null=True, blank=True)
    #: When it stopped being true, in event time; None while it is current. A superseded row
    #: keeps its text for the record but is never recalled by default.
    valid_to = models.DateTimeField(null=True, blank=True)
    #: The memory that replaced it (``valid_to`` set); deleting the successor unlinks it.
    superseded_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="supersedes",
        db_index=False,
    )
    #: The text-search configuration ``content`` is stemmed with (``memory.language``).
    ts_config = RegConfigField(default=TEXT_SEARCH_CONFIG, db_default=TEXT_SEARCH_CONFIG)
    #: ``to_tsvector(ts_config, content)`` with positions, kept by the database for recall.
    content_tsv = models.GeneratedField(
        expression=SearchVector("content", config=F("ts_config")),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = MemoryQuerySet.as_manager()

    class Meta:
        db_table = "companion_memories"
        verbose_name_plural = "companion memories"
        indexes = [
            models.Index(
                fields=["user_id"],
                name="idx_memories_user_profile",
                condition=models.Q(instance_id__isnull=True),
            ),
            models.Index(
                fields=["session"],
                name="idx_memories_session",
                condition=models.Q(instance_id__isnull=False),
            ),
            # Relationship recall filters by (user, instance); the reference indexed only session.
            models.Index(
                fields=["user_id", "instance_id"],
                name="idx_memories_relationship",
                condition=models.Q(instance_id__isnull=False, deleted_at__isnull=True),
            ),
            HnswIndex(
                fields=["embedding"],
                name="idx_memories_embedding",
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            models.Index(
                fields=["user_id", "slot"],
                name="idx_memories_current_slot",
                condition=models.Q(
                    slot__isnull=False, valid_to__isnull=True, deleted_at__isnull=True
                ),
            ),
            models.Index(
                fields=["superseded_by"],
                name="idx_memories_superseded_by",
                condition=models.Q(superseded_by__isnull=False),
            ),
            # Cross-user text searches; per-user recall reads content_tsv from the user's rows.
            GinIndex(fields=["content_tsv"], name="idx_memories_content_tsv"),
        ]

    def __str__(self) -> str:
        return self.content[:60]

    @property
    def is_current(self) -> bool:
        """Not superseded (``valid_to`` unset)."""
        return self.valid_to is None

    @property
    def layer(self) -> str:
        return LAYER_PROFILE if self.instance_id is None else LAYER_RELATIONSHIP
