"""A partial index on pending user messages, for the stuck-turn sweeper's scan."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction; it does not block writes
    # to chat_messages while it builds.
    atomic = False

    dependencies = [
        ("companions", "0002_database_side_defaults"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="chatmessage",
            index=models.Index(
                condition=models.Q(("turn_status", "pending")),
                fields=["sent_at"],
                name="idx_chat_messages_pending",
            ),
        ),
    ]
