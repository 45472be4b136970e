"""Database-side default for ``persona_genomes.art_metadata``."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("personas", "0001_genomes_and_instances")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE persona_genomes ALTER COLUMN art_metadata SET DEFAULT '{}'::jsonb",
            reverse_sql=migrations.RunSQL.noop,
        )
    ]
