"""Defaults and cascades that the database itself enforces, for SQL written outside Django.

Django sets JSON defaults and cascades in Python; rows inserted with plain SQL (reference-style
tooling, operators' scripts) get them from these database rules instead.
"""

from django.db import migrations

SQL = """
ALTER TABLE chat_sessions ALTER COLUMN metadata SET DEFAULT '{}'::jsonb;
ALTER TABLE chat_messages ALTER COLUMN context SET DEFAULT '{}'::jsonb;
ALTER TABLE companion_affinity_events ALTER COLUMN deltas SET DEFAULT '{}'::jsonb;
ALTER TABLE companion_affinity_events ALTER COLUMN context SET DEFAULT '{}'::jsonb;
DO $$
DECLARE
    fk record;
BEGIN
    -- Recreate the session/affinity foreign keys with ON DELETE CASCADE (reference §1.2).
    FOR fk IN
        SELECT c.conname, c.conrelid::regclass AS tbl, a.attname AS col,
               c.confrelid::regclass AS ref
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f'
          AND c.conrelid::regclass::text IN (
              'chat_messages', 'companion_affinity', 'companion_affinity_events')
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
        EXECUTE format(
            'ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES %s (id) '
            'ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED',
            fk.tbl, fk.conname, fk.col, fk.ref);
    END LOOP;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("companions", "0001_chat_and_affinity")]

    operations = [migrations.RunSQL(SQL, reverse_sql=migrations.RunSQL.noop)]
