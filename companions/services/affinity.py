"""Affinity writes: every change happens under the row lock and persists time decay first.

DESIGN §9 items 3, 4 and 6: writes are serialised per session with ``SELECT … FOR UPDATE``,
creation is race-free, decay accrued since ``updated_at`` is written whenever the row is
written (so it is never lost), and ghost turns apply their deltas.

Each write is: lock the row → one pure step (``domain.affinity.advance``, or ``decay`` for a
streak reset) → store → event. The step moves ``updated_at`` by exactly the whole minutes of
decay applied, so sub-minute remainders carry over to the next write instead of being dropped.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from companions.domain import affinity as affinity_rules
from companions.domain.types import AXES, Affinity, AffinityDeltas, RelationshipLabel
from companions.models import ChatSession, CompanionAffinity, CompanionAffinityEvent


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


def _store(row: CompanionAffinity, value: Affinity) -> None:
    """Copy a transition's result onto ``row`` (not saved): axes, clock and ghost bookkeeping.

    The label is copied when ``value`` has one; a decay-only step keeps the row's label text.
    """
    for axis in AXES:
        setattr(row, axis, getattr(value, axis))
    row.updated_at = value.updated_at
    row.ghost_streak = value.ghost_streak
    row.total_ghosts = value.total_ghosts
    row.last_ghost_at = value.last_ghost_at
    if value.relationship_label is not None:
        row.relationship_label = value.relationship_label.value


def _decay_facts(step: affinity_rules.Transition) -> dict[str, Any]:
    """The event's ``context["decay"]``: ``{"minutes": 0}`` or ``{"minutes": m, "days": d}``."""
    if step.decay_minutes <= 0:
        return {"minutes": 0}
    return {"minutes": step.decay_minutes, "days": step.decay_days}


def affinity_advance(
    *,
    row: CompanionAffinity,
    session: ChatSession,
    deltas: AffinityDeltas,
    event_type: str,
    context: dict[str, Any],
    now: datetime,
    inertia: float | None = None,
    ghost: bool = False,
) -> CompanionAffinityEvent:
    """Advance the locked ``row`` to ``now`` by ``deltas``, save it and log one event.

    The transition is ``domain.affinity.advance`` (decay, EMA with ``inertia``, label;
    reference eros-engine-core.md §1.3); ``ghost=True`` also counts a ghost (streak and
    total +1, ``last_ghost_at = now``). The event holds the raw deltas and ``context`` plus
    ``inertia`` and ``decay`` (``{"minutes", "days"}`` consumed). ``inertia`` defaults to the
    session's (demo-aware). Precondition: the caller holds the row lock (``affinity_lock``)
    inside its transaction.
    """
    inertia = inertia_for(session) if inertia is None else inertia
    step = affinity_rules.advance(to_domain(row), deltas, now=now, inertia=inertia)
    value = step.affinity
    if ghost:
        value = dataclasses.replace(
            value,
            ghost_streak=value.ghost_streak + 1,
            total_ghosts=value.total_ghosts + 1,
            last_ghost_at=now,
        )
    _store(row, value)
    row.save()
    return CompanionAffinityEvent.objects.create(
        affinity=row,
        event_type=event_type,
        deltas=deltas.as_dict(),
        context={**context, "inertia": inertia, "decay": _decay_facts(step)},
        created_at=now,
    )


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

    Locks the row (creating it if missing), then ``affinity_advance``: decay persisted to
    ``now``, ``(1 - inertia) * delta`` per axis with the reference clamps, label inferred, one
    event with the raw deltas and ``context`` (which should carry ``source``: rules, llm,
    offline, gift). ``inertia`` defaults to the session's (demo-aware). Reference
    eros-engine-core.md §1.3.
    """
    row = affinity_lock(session=session)
    event = affinity_advance(
        row=row,
        session=session,
        deltas=deltas,
        event_type=event_type,
        context=context,
        now=now,
        inertia=inertia,
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
    event = affinity_advance(
        row=row,
        session=session,
        deltas=deltas,
        event_type="ghost",
        context={"source": "ghost", **context},
        now=now,
        ghost=True,
    )
    return row, event


def affinity_reset_streak(*, session: ChatSession, now: datetime) -> bool:
    """Reset the ghost streak after a non-ghost turn; returns True when a write happened.

    Writes (with decay persisted, ``domain.affinity.decay``) only when the streak is not
    already 0; a row at 0 is neither locked nor written, and a missing row is left missing.
    Joins the caller's transaction without a savepoint, so inside a chat turn it costs one
    ``SELECT … FOR UPDATE`` plus one ``UPDATE`` when there is a streak; an error aborts the
    caller's transaction. The row lock lasts until that transaction ends.
    """
    with transaction.atomic(savepoint=False):
        # Filtering on the streak keeps the usual case (no streak) to one query that locks
        # nothing; the chat turn's query budget counts it.
        row = (
            CompanionAffinity.objects.select_for_update()
            .filter(session_id=session.id, ghost_streak__gt=0)
            .first()
        )
        if row is None:
            return False
        value = affinity_rules.decay(to_domain(row), now=now).affinity
        _store(row, dataclasses.replace(value, ghost_streak=0))
        row.save()
        return True


def affinity_for_session(session_id: uuid.UUID) -> CompanionAffinity | None:
    return CompanionAffinity.objects.filter(session_id=session_id).first()
