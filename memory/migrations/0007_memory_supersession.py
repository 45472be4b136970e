"""Facts that change: ``slot``, ``valid_to`` and ``superseded_by`` (DESIGN §7).

Existing memories get their slot from the slot rules (``memory.slots``), so the next value a
user tells supersedes them; none is superseded here. Raw turn rows (no category) keep no slot:
recall no longer reads them.
"""

import django.db.models.deletion
from django.db import migrations, models


def fill_slots(apps, schema_editor):
    from memory.slots import slot_of

    Memory = apps.get_model("memory", "CompanionMemory")
    rows = Memory.objects.filter(category__isnull=False, deleted_at__isnull=True)
    changed = []
    for row in rows.only("id", "content").iterator(chunk_size=2000):
        slot = slot_of(row.content)
        if slot is not None:
            row.slot = slot.key
            changed.append(row)
    Memory.objects.bulk_update(changed, ["slot"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("companions", "0004_task_paths_moved_to_companions"),
        ("memory", "0006_user_authored_memories"),
    ]

    operations = [
        migrations.AddField(
            model_name="companionmemory",
            name="slot",
            field=models.TextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="companionmemory",
            name="superseded_by",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="supersedes",
                to="memory.companionmemory",
            ),
        ),
        migrations.AddField(
            model_name="companionmemory",
            name="valid_to",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="companionmemory",
            index=models.Index(
                condition=models.Q(
                    ("deleted_at__isnull", True),
                    ("slot__isnull", False),
                    ("valid_to__isnull", True),
                ),
                fields=["user_id", "slot"],
                name="idx_memories_current_slot",
            ),
        ),
        migrations.AddIndex(
            model_name="companionmemory",
            index=models.Index(
                condition=models.Q(("superseded_by__isnull", False)),
                fields=["superseded_by"],
                name="idx_memories_superseded_by",
            ),
        ),
        migrations.RunPython(fill_slots, migrations.RunPython.noop),
    ]
