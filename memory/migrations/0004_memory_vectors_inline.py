"""Keep embeddings inline in the heap row instead of out of line in the TOAST table.

A 512-float vector is 2,056 bytes, just over PostgreSQL's 2 kB TOAST threshold, so by default
every vector lives in the TOAST table and each recall row costs an extra index lookup and two
chunk reads. ``STORAGE MAIN`` with ``toast_tuple_target = 8160`` keeps rows up to a page inline
(measured: a user's exact recall scan about twice as fast); only rows with very long content
are still toasted, content first. Rows written before this migration move inline when they are
next rewritten (``VACUUM FULL companion_memories``).
"""

from django.db import migrations

FORWARD = """
ALTER TABLE companion_memories ALTER COLUMN embedding SET STORAGE MAIN;
ALTER TABLE companion_memories SET (toast_tuple_target = 8160);
"""

BACKWARD = """
ALTER TABLE companion_memories ALTER COLUMN embedding SET STORAGE EXTERNAL;
ALTER TABLE companion_memories RESET (toast_tuple_target);
"""


class Migration(migrations.Migration):
    dependencies = [("memory", "0003_hybrid_recall_text_search")]

    operations = [migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)]
