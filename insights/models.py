"""The structured per-user insight profile (``engine.companion_insights``)."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Now
from django.utils import timezone


class CompanionInsights(models.Model):
    """JSONB profile of one user with its weighted completeness ``training_level`` in [0, 1]."""

    user_id = models.UUIDField(primary_key=True)
    insights = models.JSONField(default=dict, blank=True)
    training_level = models.FloatField(default=0.0, db_default=0.0)
    updated_at = models.DateTimeField(default=timezone.now, db_default=Now())

    class Meta:
        db_table = "companion_insights"
        verbose_name_plural = "companion insights"

    def __str__(self) -> str:
        return str(self.user_id)
