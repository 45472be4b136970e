"""Database-side defaults and the session cascade for ``companion_memories``."""

from django.db import migrations

SQL = """
ALTER TABLE companion_memories ALTER COLUMN source_message_ids SET DEFAULT '{}'::uuid[];
DO $$
DECLARE
    fk record;
BEGIN
    FOR fk IN
        SELECT c.conname FROM pg_constraint c
        WHERE c.contype = 'f' AND c.conrelid::regclass::text = 'companion_memories'
    LOOP
        EXECUTE format('ALTER TABLE companion_memories DROP CONSTRAINT %I', fk.conname);
        EXECUTE format(
            'ALTER TABLE companion_memories ADD CONSTRAINT %I FOREIGN KEY (session_id) '
            'REFERENCES chat_sessions (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
            fk.conname);
    END LOOP;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("memory", "0001_companion_memories")]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
