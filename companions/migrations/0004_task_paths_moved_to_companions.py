"""Point stored django-q2 schedules at the task paths that moved to companions.

Dreaming's tick and the post-process parts now run from ``companions.tasks``; a schedule written
before the move still names ``memory.tasks`` or ``insights.tasks``. Those old paths forward to
the new ones for one release; this rewrites the stored schedules so they stop needing that.
"""

from django.db import migrations

MOVED = {
    "memory.tasks.dreaming_tick": "companions.tasks.dreaming_tick",
    "memory.tasks.memory_write_turn": "companions.tasks.memory_write_turn",
    "insights.tasks.insight_update_turn": "companions.tasks.insight_update_turn",
    "insights.tasks.lead_score_refresh_turn": "companions.tasks.lead_score_refresh_turn",
}


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new in MOVED.items():
        Schedule.objects.filter(func=old).update(func=new)


def backwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new in MOVED.items():
        Schedule.objects.filter(func=new).update(func=old)


class Migration(migrations.Migration):
    dependencies = [
        ("companions", "0003_pending_turns_index"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
