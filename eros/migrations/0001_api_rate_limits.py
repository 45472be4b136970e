"""The state of the API rate limits: one row per limited user or client address.

The table is UNLOGGED: rate-limit state is not worth a WAL flush on every request (a write to
it commits without waiting for the disk), and losing it in a crash only resets the limits.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='ApiRateLimit',
            fields=[
                ('key', models.TextField(primary_key=True, serialize=False)),
                ('tat', models.DateTimeField(db_index=True)),
            ],
            options={
                'verbose_name': 'API rate limit',
                'db_table': 'api_rate_limits',
            },
        ),
        migrations.RunSQL(
            "ALTER TABLE api_rate_limits SET UNLOGGED",
            reverse_sql="ALTER TABLE api_rate_limits SET LOGGED",
        ),
    ]
