"""Database-side default for ``companion_insights.insights``."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("insights", "0001_companion_insights")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE companion_insights ALTER COLUMN insights SET DEFAULT '{}'::jsonb",
            reverse_sql=migrations.RunSQL.noop,
        )
    ]
