"""Affinity writes: decay persisted, ghost deltas applied, creation race-free (DESIGN §9)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from companions.domain import affinity as affinity_rules
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


@pytest.mark.django_db
def test_streak_reset_persists_decay_keeps_the_label_and_adds_no_savepoint(alice_session):
    row = affinity_service.affinity_get_or_create(session=alice_session)
    ten_days_ago = timezone.now() - timedelta(days=10)
    CompanionAffinity.objects.filter(id=row.id).update(
        updated_at=ten_days_ago, ghost_streak=2, total_ghosts=3, relationship_label="slow_burn"
    )
    now = ten_days_ago + timedelta(days=10, seconds=30)

    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        assert affinity_service.affinity_reset_streak(session=alice_session, now=now) is True

    statements = [q["sql"].split()[0] for q in captured.captured_queries]
    assert statements == ["SELECT", "UPDATE"]
    assert "FOR UPDATE" in captured.captured_queries[0]["sql"]
    row.refresh_from_db()
    assert (row.ghost_streak, row.total_ghosts) == (0, 3)
    assert row.intrigue == pytest.approx(0.4) and row.tension == pytest.approx(0.05)
    assert row.updated_at == ten_days_ago + timedelta(days=10)
    assert row.relationship_label == "slow_burn"  # decay alone does not relabel


@pytest.mark.django_db
def test_streak_reset_without_a_streak_writes_nothing(alice_session):
    row = affinity_service.affinity_get_or_create(session=alice_session)
    two_days_ago = timezone.now() - timedelta(days=2)
    CompanionAffinity.objects.filter(id=row.id).update(updated_at=two_days_ago)

    assert (
        affinity_service.affinity_reset_streak(session=alice_session, now=timezone.now()) is False
    )

    row.refresh_from_db()
    assert row.updated_at == two_days_ago and row.intrigue == 0.5


@pytest.mark.django_db
def test_advance_of_a_locked_row_writes_the_domain_step_and_its_decay_facts(alice_session):
    row = affinity_service.affinity_get_or_create(session=alice_session)
    written = timezone.now() - timedelta(seconds=90)
    CompanionAffinity.objects.filter(id=row.id).update(updated_at=written)
    now = written + timedelta(seconds=90)
    deltas = AffinityDeltas(warmth=0.5, patience=-0.07, tension=0.03)

    with transaction.atomic():
        locked = affinity_service.affinity_lock(session=alice_session)
        expected = affinity_rules.advance(
            affinity_service.to_domain(locked), deltas, now=now, inertia=0.8
        ).affinity
        event = affinity_service.affinity_advance(
            row=locked,
            session=alice_session,
            deltas=deltas,
            event_type="message",
            context={"source": "rules"},
            now=now,
        )

    row.refresh_from_db()
    assert affinity_service.to_domain(row) == expected
    assert row.warmth == 0.39999999999999997 and row.relationship_label == "stranger"
    assert row.updated_at == written + timedelta(minutes=1)
    assert event.context == {
        "source": "rules",
        "inertia": 0.8,
        "decay": {"minutes": 1, "days": 1 / 1440.0},
    }
