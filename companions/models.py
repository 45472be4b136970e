"""Chat sessions, messages, affinity and the affinity event log.

Tables in schema ``engine`` as in reference eros-engine-server.md §1.2, with eros's additions
(DESIGN §3): ``turn_status``, ``reply_to_id`` and ``context`` on messages,
``classification_attempts`` and ``next_classification_at`` on sessions. There is no foreign key
on any ``instance_id`` column (reference behaviour).
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.functions import RandomUUID
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone


class ChatSession(models.Model):
    """One conversation between a user and a persona instance (resumed across visits)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID())
    user_id = models.UUIDField()
    instance_id = models.UUIDField(null=True, blank=True)
    lead_score = models.FloatField(default=0.0, db_default=0.0)
    is_converted = models.BooleanField(default=False, db_default=False)
    last_active_at = models.DateTimeField(default=timezone.now, db_default=Now())
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    # Dreaming bookkeeping (reference 0007/0008 plus eros's retry state, DESIGN §7).
    classified_at = models.DateTimeField(null=True, blank=True)
    classification_claimed_at = models.DateTimeField(null=True, blank=True)
    classification_attempts = models.IntegerField(default=0, db_default=0)
    next_classification_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chat_sessions"
        indexes = [
            models.Index(fields=["user_id"], name="idx_chat_sessions_user"),
            models.Index(fields=["instance_id"], name="idx_chat_sessions_instance"),
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def is_demo(self) -> bool:
        return isinstance(self.metadata, dict) and self.metadata.get("is_demo") is True


class ChatMessage(models.Model):
    """A message in a session; user rows carry the turn's status."""

    ROLE_USER = "user"
    ROLE_ASSISTANT = "assistant"
    ROLE_GIFT_USER = "gift_user"
    ROLE_SYSTEM_ERROR = "system_error"
    ROLES = [ROLE_USER, ROLE_ASSISTANT, ROLE_GIFT_USER, ROLE_SYSTEM_ERROR]

    TURN_PENDING = "pending"
    TURN_REPLIED = "replied"
    TURN_GHOSTED = "ghosted"
    TURN_FAILED = "failed"
    TURN_STATUSES = [TURN_PENDING, TURN_REPLIED, TURN_GHOSTED, TURN_FAILED]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID())
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    role = models.TextField(choices=[(r, r) for r in ROLES])
    content = models.TextField()
    extracted_facts = models.JSONField(null=True, blank=True)
    # Python-side default: rows written in one transaction must still order by time.
    sent_at = models.DateTimeField(default=timezone.now, db_default=Now())
    turn_status = models.TextField(null=True, blank=True, choices=[(s, s) for s in TURN_STATUSES])
    reply_to_id = models.UUIDField(null=True, blank=True)
    #: Operator-facing facts about the turn (plan, recall, model, timings); never sent to clients.
    context = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "chat_messages"
        indexes = [
            models.Index("session", models.F("sent_at").desc(), name="idx_chat_messages_session"),
            # The stuck-turn sweeper's scan: only the few pending turns, oldest first.
            models.Index(
                fields=["sent_at"],
                condition=models.Q(turn_status="pending"),
                name="idx_chat_messages_pending",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["user", "assistant", "gift_user", "system_error"]),
                name="chat_messages_role_check",
            ),
            models.CheckConstraint(
                condition=models.Q(turn_status__isnull=True)
                | models.Q(turn_status__in=["pending", "replied", "ghosted", "failed"]),
                name="chat_messages_turn_status_check",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class CompanionAffinity(models.Model):
    """The six-axis relationship vector of one session, with ghost bookkeeping.

    ``updated_at`` is the instant up to which time decay has been applied (eros persists decay
    on every write, DESIGN §9 item 4).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID())
    session = models.OneToOneField(ChatSession, on_delete=models.CASCADE, related_name="affinity")
    user_id = models.UUIDField()
    instance_id = models.UUIDField()
    warmth = models.FloatField(default=0.3, db_default=0.3)
    trust = models.FloatField(default=0.2, db_default=0.2)
    intrigue = models.FloatField(default=0.5, db_default=0.5)
    intimacy = models.FloatField(default=0.0, db_default=0.0)
    patience = models.FloatField(default=0.5, db_default=0.5)
    tension = models.FloatField(default=0.1, db_default=0.1)
    ghost_streak = models.IntegerField(default=0, db_default=0)
    last_ghost_at = models.DateTimeField(null=True, blank=True)
    total_ghosts = models.IntegerField(default=0, db_default=0)
    relationship_label = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())
    updated_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        db_table = "companion_affinity"
        verbose_name_plural = "companion affinities"
        indexes = [models.Index(fields=["user_id"], name="idx_affinity_user")]

    def __str__(self) -> str:
        return f"affinity of {self.session_id}"


class CompanionAffinityEvent(models.Model):
    """Append-only log of affinity changes; ``deltas`` are the raw (unblended) deltas.

    ``context["source"]`` says where the deltas came from: ``rules``, ``llm``, ``offline``
    (the no-model evaluator), ``gift`` or ``ghost`` (DESIGN §3).
    """

    EVENT_TYPES = ["message", "ghost", "gift", "time_decay"]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, db_default=RandomUUID())
    affinity = models.ForeignKey(CompanionAffinity, on_delete=models.CASCADE, related_name="events")
    event_type = models.TextField(choices=[(t, t) for t in EVENT_TYPES])
    deltas = models.JSONField(default=dict)
    context = models.JSONField(default=dict, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        db_table = "companion_affinity_events"
        indexes = [models.Index(fields=["affinity"], name="idx_affinity_events_affinity")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(event_type__in=["message", "ghost", "gift", "time_decay"]),
                name="companion_affinity_events_event_type_check",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.created_at:%Y-%m-%d %H:%M:%S}"
