"""Affinity writes: every change happens under the row lock and persists time decay first.

DESIGN §9 items 3, 4 and 6: writes are serialised per session with ``SELECT … FOR UPDATE``,
creation is race-free, decay accrued since ``updated_at`` is written whenever the row is
written (so it is never lost), and ghost turns apply their deltas.
``updated_at`` advances by exactly the whole minutes of decay applied, so sub-minute remainders
carry over to the next write instead of being dropped.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from companions.domain import affinity as affinity_rules
from companions.domain.types import Affinity, AffinityDeltas, RelationshipLabel
from companions.models import ChatSession, CompanionAffinity, CompanionAffinityEvent

AXES = ("warmth", "trust", "intrigue", "intimacy", "patience", "tension")


def to_domain(row: CompanionAffinity) -> Affinity:
    """The pure-domain value of an affinity row (unknown label text reads as no label)."""
    try:
        label = RelationshipLabel(row.relationship_label) if row.relationship_label else None
    except ValueError:
        label = None
    return Affinity(
        warmth=row.warmth,
        trust=row.trust,
        intrigue=row.intrigue,
        intimacy=row.intimacy,
        patience=row.patience,
        tension=row.tension,
        ghost_streak=row.ghost_streak,
        last_ghost_at=row.last_ghost_at,
        total_ghosts=row.total_ghosts,
        relationship_label=label,
        updated_at=row.updated_at,
    )


def decayed_view(row: CompanionAffinity, *, now: datetime) -> Affinity:
    """The row as it stands at ``now`` after time decay, without writing anything."""
    return affinity_rules.apply_time_decay(to_domain(row), now=now)


def inertia_for(session: ChatSession) -> float:
    """``DEMO_EMA_INERTIA`` for demo sessions, else ``EMA_INERTIA`` (reference server §6.9.1)."""
    from django.conf import settings

    return settings.DEMO_EMA_INERTIA if session.is_demo else settings.EMA_INERTIA


def affinity_get_or_create(*, session: ChatSession) -> CompanionAffinity:
    """The session's affinity row, created with the reference defaults if missing.

    Race-free: concurrent first calls both end with the one row (the unique ``session_id``
    decides, the loser re-reads). Requires ``session.instance_id``.
    """
    row = CompanionAffinity.objects.filter(session_id=session.id).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return CompanionAffinity.objects.create(
                session_id=session.id, user_id=session.user_id, instance_id=session.instance_id
            )
    except IntegrityError:
        return CompanionAffinity.objects.get(session_id=session.id)


def affinity_lock(*, session: ChatSession) -> CompanionAffinity:
    """The session's affinity row, created if missing, locked ``FOR UPDATE``.

    Precondition: the caller is inside ``transaction.atomic()``; the lock lasts until it ends.
    """
    affinity_get_or_create(session=session)
    return CompanionAffinity.objects.select_for_update().get(session_id=session.id)


def _persist_decay(row: CompanionAffinity, *, now: datetime) -> dict[str, Any]:
    """Apply decay since ``row.updated_at`` to ``row`` in memory; caller holds the lock."""
    minutes = affinity_rules.decay_minutes(row.updated_at, now)
    if minutes <= 0:
        return {"minutes": 0}
    before = to_domain(row)
    after = affinity_rules.apply_time_decay(before, now=now)
    for axis in AXES:
        setattr(row, axis, getattr(after, axis))
    row.updated_at = row.updated_at + timedelta(minutes=minutes)
    return {"minutes": minutes, "days": minutes / 1440.0}


def _store(row: CompanionAffinity, value: Affinity) -> None:
    for axis in AXES:
        setattr(row, axis, getattr(value, axis))
    row.relationship_label = value.relationship_label.value if value.relationship_label else None


@transaction.atomic
def affinity_apply_deltas(
    *,
    session: ChatSession,
    deltas: AffinityDeltas,
    event_type: str,
    context: dict[str, Any],
    now: datetime,
    inertia: float | None = None,
) -> tuple[CompanionAffinity, CompanionAffinityEvent]:
    """EMA-apply ``deltas`` to the session's affinity and log one event.

    Under the row lock: persist decay to ``now``, apply ``(1 - inertia) * delta`` per axis with
    the reference clamps, infer the label, and insert an event with the raw deltas and
    ``context`` (which should carry ``source``: rules, llm, gift). ``inertia`` defaults to the
    session's (demo-aware). Reference eros-engine-core.md §1.3.
    """
    row = affinity_lock(session=session)
    decay = _persist_decay(row, now=now)
    inertia = inertia_for(session) if inertia is None else inertia
    value = affinity_rules.apply_deltas(to_domain(row), deltas, ema_inertia=inertia)
    value = dataclasses.replace(value, relationship_label=affinity_rules.infer_label(value))
    _store(row, value)
    row.save()
    event = CompanionAffinityEvent.objects.create(
        affinity=row,
        event_type=event_type,
        deltas=deltas.as_dict(),
        context={**context, "inertia": inertia, "decay": decay},
        created_at=now,
    )
    return row, event


@transaction.atomic
def affinity_record_ghost(
    *, session: ChatSession, deltas: AffinityDeltas, now: datetime, context: dict[str, Any]
) -> tuple[CompanionAffinity, CompanionAffinityEvent]:
    """Record a ghost turn: streak and totals, ``last_ghost_at``, and the ghost deltas applied.

    Unlike the reference, the PDE's ghost deltas (patience −0.05, tension +0.05) are
    EMA-applied and decay is persisted (DESIGN §9 items 3–4). One ``ghost`` event.
    """
    row = affinity_lock(session=session)
    decay = _persist_decay(row, now=now)
    inertia = inertia_for(session)
    value = affinity_rules.apply_deltas(to_domain(row), deltas, ema_inertia=inertia)
    value = dataclasses.replace(value, relationship_label=affinity_rules.infer_label(value))
    _store(row, value)
    row.ghost_streak += 1
    row.total_ghosts += 1
    row.last_ghost_at = now
    row.save()
    event = CompanionAffinityEvent.objects.create(
        affinity=row,
        event_type="ghost",
        deltas=deltas.as_dict(),
        context={"source": "ghost", **context, "inertia": inertia, "decay": decay},
        created_at=now,
    )
    return row, event


def affinity_reset_streak(*, session: ChatSession, now: datetime) -> bool:
    """Reset the ghost streak after a non-ghost turn; returns True when a write happened.

    Writes (with decay persisted) only when the streak is not already 0. Caller may hold a
    transaction; this function uses the row lock.
    """
    with transaction.atomic():
        row = CompanionAffinity.objects.select_for_update().filter(session_id=session.id).first()
        if row is None or row.ghost_streak == 0:
            return False
        _persist_decay(row, now=now)
        row.ghost_streak = 0
        row.save()
        return True


def affinity_for_session(session_id: uuid.UUID) -> CompanionAffinity | None:
    return CompanionAffinity.objects.filter(session_id=session_id).first()
