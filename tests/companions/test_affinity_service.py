"""Affinity writes: decay persisted, ghost deltas applied, creation race-free (DESIGN §9)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from companions.domain.types import AffinityDeltas
from companions.models import CompanionAffinity, CompanionAffinityEvent
from companions.services import affinity as affinity_service


@pytest.mark.django_db
def test_apply_deltas_blends_with_inertia_and_logs_raw_deltas(alice_session):
    now = timezone.now()
    row, event = affinity_service.affinity_apply_deltas(
        session=alice_session,
        deltas=AffinityDeltas(warmth=0.4, trust=0.2),
        event_type="message",
        context={"source": "rules"},
        now=now,
        inertia=0.0,
    )
    row.refresh_from_db()
    assert row.warmth == pytest.approx(0.7) and row.trust == pytest.approx(0.4)
    assert event.deltas == {
        "warmth": 0.4,
        "trust": 0.2,
        "intrigue": 0.0,
        "intimacy": 0.0,
        "patience": 0.0,
        "tension": 0.0,
    }
    assert event.context["source"] == "rules" and event.context["inertia"] == 0.0
    assert CompanionAffinityEvent.objects.filter(affinity=row).count() == 1


@pytest.mark.django_db
def test_demo_sessions_use_the_demo_inertia(alice_session, settings):
    settings.DEMO_EMA_INERTIA = 0.3
    alice_session.metadata = {"is_demo": True}
    alice_session.save()
    row, _ = affinity_service.affinity_apply_deltas(
        session=alice_session,
        deltas=AffinityDeltas(warmth=0.5),
        event_type="message",
        context={},
        now=timezone.now(),
    )
    assert row.warmth == 0.3 + (1.0 - 0.3) * 0.5


@pytest.mark.django_db
def test_decay_is_persisted_on_write_and_never_lost(alice_session):
    row = affinity_service.affinity_get_or_create(session=alice_session)
    ten_days_ago = timezone.now() - timedelta(days=10)
    CompanionAffinity.objects.filter(id=row.id).update(updated_at=ten_days_ago)
    now = ten_days_ago + timedelta(days=10, seconds=30)
    row, event = affinity_service.affinity_apply_deltas(
        session=alice_session,
        deltas=AffinityDeltas(),
        event_type="message",
        context={},
        now=now,
        inertia=0.8,
    )
    row.refresh_from_db()
    assert row.intrigue == pytest.approx(0.4) and row.patience == pytest.approx(0.55)
    assert row.tension == pytest.approx(0.05)
    # updated_at advanced by the whole minutes consumed; the 30 s remainder carries over.
    assert row.updated_at == ten_days_ago + timedelta(days=10)
    assert event.context["decay"] == {"minutes": 14400, "days": 10.0}


@pytest.mark.django_db
def test_ghost_records_streak_and_applies_ghost_deltas(alice_session):
    now = timezone.now()
    row, event = affinity_service.affinity_record_ghost(
        session=alice_session,
        deltas=AffinityDeltas(patience=-0.05, tension=0.05),
        now=now,
        context={},
    )
    row.refresh_from_db()
    assert (row.ghost_streak, row.total_ghosts, row.last_ghost_at) == (1, 1, now)
    assert row.patience == 0.5 + (1.0 - 0.8) * -0.05
    assert row.tension == 0.1 + (1.0 - 0.8) * 0.05
    assert event.event_type == "ghost" and event.context["source"] == "ghost"


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_writes_create_one_row_and_both_events(alice_session):
    barrier = threading.Barrier(2)
    errors = []

    def write():
        try:
            barrier.wait(5)
            affinity_service.affinity_apply_deltas(
                session=alice_session,
                deltas=AffinityDeltas(warmth=0.1),
                event_type="message",
                context={},
                now=timezone.now(),
                inertia=0.0,
            )
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    row = CompanionAffinity.objects.get(session=alice_session)
    assert row.warmth == pytest.approx(0.5)  # both increments landed: serialised, not lost
    assert CompanionAffinityEvent.objects.filter(affinity=row).count() == 2
