"""Task paths that moved to companions keep working for tasks and schedules stored earlier."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django_q.models import Schedule

from companions.models import CompanionAffinityEvent
from insights.models import CompanionInsights
from memory.models import CompanionMemory
from tests.companions.test_post_process import replied_turn

moved = importlib.import_module("companions.migrations.0004_task_paths_moved_to_companions")


@pytest.mark.django_db
def test_the_migration_points_old_schedules_at_the_new_paths():
    Schedule.objects.create(name="eros-dreaming", func="memory.tasks.dreaming_tick")
    Schedule.objects.create(name="someone else's", func="myapp.tasks.tick")

    moved.forwards(apps, None)

    assert dict(Schedule.objects.values_list("name", "func")) == {
        "eros-dreaming": "companions.tasks.dreaming_tick",
        "someone else's": "myapp.tasks.tick",
    }
    moved.backwards(apps, None)
    assert Schedule.objects.get(name="eros-dreaming").func == "memory.tasks.dreaming_tick"


@pytest.mark.django_db
def test_an_old_memory_task_forwards_to_the_memory_part(alice_session, settings):
    from eros.llm.fakes import FakeEmbedder
    from memory.tasks import memory_write_turn

    settings.EROS_EMBEDDER = FakeEmbedder()
    user_message = replied_turn(alice_session)

    memory_write_turn(str(user_message.id))  # django-q2 sync mode runs the forwarded task

    assert CompanionMemory.objects.filter(source_message_ids__contains=[user_message.id]).count()


@pytest.mark.django_db
def test_an_old_lead_task_still_refreshes_the_lead_score(alice_session):
    from insights.tasks import lead_score_refresh_turn

    user_message = replied_turn(alice_session)
    CompanionInsights.objects.create(user_id=alice_session.user_id, training_level=0.42)

    lead_score_refresh_turn(str(user_message.id))

    alice_session.refresh_from_db()
    assert alice_session.lead_score == pytest.approx(4.2)
    assert not CompanionAffinityEvent.objects.exists()  # only the lead score was asked for


@pytest.mark.django_db
def test_an_old_dreaming_schedule_still_distils(alice_session, settings):
    from memory.tasks import dreaming_tick

    settings.DREAMING_IDLE_SECS = 0
    replied_turn(alice_session)

    dreaming_tick()

    alice_session.refresh_from_db()
    assert alice_session.classified_at is not None
