"""Hybrid recall: a stored ``to_tsvector('simple', content)`` column and its GIN index.

Adding a stored generated column rewrites the table once; on a large ``companion_memories``
run it in a maintenance window.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('companions', '0002_database_side_defaults'),
        ('memory', '0002_database_side_defaults'),
    ]

    operations = [
        migrations.AddField(
            model_name='companionmemory',
            name='content_tsv',
            field=models.GeneratedField(db_persist=True, expression=django.contrib.postgres.search.SearchVector('content', config='simple'), output_field=django.contrib.postgres.search.SearchVectorField()),
        ),
        migrations.AddIndex(
            model_name='companionmemory',
            index=django.contrib.postgres.indexes.GinIndex(fields=['content_tsv'], name='idx_memories_content_tsv'),
        ),
    ]
