"""``persona_genomes.greeting``: the persona's first message of a new session (nullable)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("personas", "0002_database_side_defaults")]

    operations = [
        migrations.AddField(
            model_name="personagenome",
            name="greeting",
            field=models.TextField(blank=True, null=True),
        ),
    ]
