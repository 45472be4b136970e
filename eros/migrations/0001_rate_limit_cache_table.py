"""The table of the ``rate_limits`` cache (Django's database cache), holding API throttle state.

``createcachetable`` is idempotent and creates exactly the table the backend expects; running it
here makes ``migrate`` the only set-up step on every deployment.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def drop_cache_table(apps, schema_editor):
    schema_editor.execute("DROP TABLE IF EXISTS api_rate_limits")


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.RunPython(create_cache_table, reverse_code=drop_cache_table)]
