"""Gift events: a gift moves the affinity directly, without a model call.

Reference eros-engine-server.md §5.4.10, with eros's affinity rules (DESIGN §9 items 4 and 6):
decay accrued since the last write is persisted first, the EMA uses the session's inertia
(``DEMO_EMA_INERTIA`` for demo sessions), and the write happens under the affinity row lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from companions.domain.types import AXES, AffinityDeltas
from companions.models import ChatMessage, ChatSession, CompanionAffinity, CompanionAffinityEvent
from companions.services import affinity as affinity_service
from eros.errors import Conflict

DEFAULT_GIFT_LABEL = "gift"


@dataclass(frozen=True)
class GiftOutcome:
    """The gift's result; ``change`` is new − old per axis (old = decayed to the gift's time),
    the change the gift actually made after the EMA and the clamps."""

    affinity: CompanionAffinity
    event: CompanionAffinityEvent
    message: ChatMessage
    change: dict[str, float]


def gift_apply(
    *,
    session: ChatSession,
    deltas: AffinityDeltas,
    label: str | None = None,
    metadata: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> GiftOutcome:
    """Record a gift: a ``gift_user`` message (content = label) and one ``gift`` event.

    In one transaction: the message is appended (and the session marked active), then the
    raw ``deltas`` are EMA-applied with ``affinity_apply_deltas(event_type="gift")``; the
    event's context holds ``source="gift"``, the label, the metadata and the message id.
    ``GiftOutcome.change`` is what the gift did to each axis (new − old, old decayed to
    ``now``).
    Raises :class:`~eros.errors.Conflict` when the session has no persona instance (no affinity
    can exist).
    """
    if session.instance_id is None:
        raise Conflict("this session has no persona instance")
    now = now or timezone.now()
    label = label or DEFAULT_GIFT_LABEL
    with transaction.atomic():
        message = ChatMessage.objects.create(
            session=session, role=ChatMessage.ROLE_GIFT_USER, content=label, sent_at=now
        )
        ChatSession.objects.filter(id=session.id).update(last_active_at=now)
        # Decay owed before the gift is not the gift's doing: "old" is the vector as of now.
        before = affinity_service.decayed_view(
            affinity_service.affinity_lock(session=session), now=now
        ).vector()
        row, event = affinity_service.affinity_apply_deltas(
            session=session,
            deltas=deltas,
            event_type="gift",
            context={
                "source": "gift",
                "label": label,
                "metadata": metadata or {},
                "gift_message_id": str(message.id),
            },
            now=now,
        )
    change = {axis: round(getattr(row, axis) - before[axis], 6) + 0.0 for axis in AXES}
    return GiftOutcome(row, event, message, change)
