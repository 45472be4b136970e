"""User-authored memories: a ``pinned`` flag, and no session for a memory the user wrote.

``pinned`` is true for memories a user added or edited through the API; recall ranks them
above the others of their list (``memory.selectors``). A user-authored memory comes from no
chat session, so ``session_id`` becomes nullable; the column is altered in place (SQL) so the
deferrable ``ON DELETE CASCADE`` foreign key of 0002 is kept as it is.
"""

from django.db import migrations, models

FORWARD = """
ALTER TABLE companion_memories
    ADD COLUMN pinned boolean NOT NULL DEFAULT false,
    ALTER COLUMN session_id DROP NOT NULL;
"""

BACKWARD = """
DELETE FROM companion_memories WHERE session_id IS NULL;
ALTER TABLE companion_memories
    DROP COLUMN pinned,
    ALTER COLUMN session_id SET NOT NULL;
"""


class Migration(migrations.Migration):
    dependencies = [("memory", "0005_memory_text_search_language")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)],
            state_operations=[
                migrations.AddField(
                    model_name="companionmemory",
                    name="pinned",
                    field=models.BooleanField(db_default=False, default=False),
                ),
                migrations.AlterField(
                    model_name="companionmemory",
                    name="session",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=models.deletion.CASCADE,
                        related_name="memories",
                        to="companions.chatsession",
                    ),
                ),
            ],
        ),
    ]
