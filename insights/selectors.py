"""Insight reads."""

from __future__ import annotations

import uuid
from typing import Any

from insights.models import CompanionInsights
from insights.schema import NAME_FIELD


def insights_for_user(*, user_id: uuid.UUID) -> dict[str, Any] | None:
    """The user's stored profile object, or None when eros holds none yet."""
    return (
        CompanionInsights.objects.filter(user_id=user_id).values_list("insights", flat=True).first()
    )


def insight_training_level(*, user_id: uuid.UUID) -> float:
    """The user's stored ``training_level`` in [0, 1] (0.0 when eros holds no profile yet)."""
    return (
        CompanionInsights.objects.filter(user_id=user_id)
        .values_list("training_level", flat=True)
        .first()
        or 0.0
    )


def insight_preferred_name(*, user_id: uuid.UUID) -> str | None:
    """What the user likes to be called (``preferred_name``), or None when eros does not know."""
    insights = insights_for_user(user_id=user_id)
    name = insights.get(NAME_FIELD.name) if isinstance(insights, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None
