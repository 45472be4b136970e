"""Stem each memory in its language: a ``ts_config regconfig`` column and
``content_tsv = to_tsvector(ts_config, content)``.

One statement drops the old ``to_tsvector('simple', content)`` column and adds the new pair,
so the table is rewritten once (run it in a maintenance window on a large table); the GIN index
is rebuilt after. Existing rows start as ``simple`` (exactly the lexemes they had), then each
user's rows get the language detected from that user's own words (profile rows first), in
batches of users, so recall stems them from now on. A user whose language cannot be told stays
``simple``. The detection here is a frozen copy of ``memory.language`` (a migration imports no
app code).
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import migrations, models

import memory.fields

FORWARD = """
DROP INDEX IF EXISTS idx_memories_content_tsv;
ALTER TABLE companion_memories
    DROP COLUMN content_tsv,
    ADD COLUMN ts_config regconfig NOT NULL DEFAULT 'simple',
    ADD COLUMN content_tsv tsvector
        GENERATED ALWAYS AS (to_tsvector(ts_config, COALESCE(content, ''))) STORED;
CREATE INDEX idx_memories_content_tsv ON companion_memories USING gin (content_tsv);
"""

BACKWARD = """
DROP INDEX IF EXISTS idx_memories_content_tsv;
ALTER TABLE companion_memories
    DROP COLUMN content_tsv,
    DROP COLUMN ts_config,
    ADD COLUMN content_tsv tsvector
        GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, COALESCE(content, ''))) STORED;
CREATE INDEX idx_memories_content_tsv ON companion_memories USING gin (content_tsv);
"""

CONFIGS = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish",
    "nl": "dutch", "en": "english", "fi": "finnish", "fr": "french", "de": "german",
    "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "no": "norwegian",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian", "es": "spanish",
    "sv": "swedish", "ta": "tamil", "tr": "turkish",
}
USERS_PER_BATCH = 500


def detect_user_languages(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT user_id FROM companion_memories")
        users = [row[0] for row in cursor.fetchall()]
    if not users:
        return
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted(CONFIGS))
    for start in range(0, len(users), USERS_PER_BATCH):
        batch = users[start : start + USERS_PER_BATCH]
        with connection.cursor() as cursor:
            # Up to 2,000 characters of each user's words, their own lines (profile rows) first.
            cursor.execute(
                """
                SELECT user_id, left(string_agg(content, E'\\n'
                                     ORDER BY instance_id IS NOT NULL, occurred_at), 2000)
                FROM companion_memories WHERE user_id = ANY(%s) GROUP BY user_id
                """,
                [batch],
            )
            samples = cursor.fetchall()
        by_config: dict[str, list] = {}
        for user_id, text in samples:
            text = text or ""
            if sum(ch.isalpha() for ch in text) < 12:
                continue
            code, probability = identifier.classify(text)
            if probability >= 0.8 and code in CONFIGS:
                by_config.setdefault(CONFIGS[code], []).append(user_id)
        with connection.cursor() as cursor:
            for config, user_ids in by_config.items():
                cursor.execute(
                    "UPDATE companion_memories SET ts_config = %s::regconfig"
                    " WHERE user_id = ANY(%s)",
                    [config, user_ids],
                )


class Migration(migrations.Migration):
    dependencies = [("memory", "0004_memory_vectors_inline")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, reverse_sql=BACKWARD)],
            state_operations=[
                migrations.RemoveIndex(
                    model_name="companionmemory", name="idx_memories_content_tsv"
                ),
                migrations.RemoveField(model_name="companionmemory", name="content_tsv"),
                migrations.AddField(
                    model_name="companionmemory",
                    name="ts_config",
                    field=memory.fields.RegConfigField(db_default="simple", default="simple"),
                ),
                migrations.AddField(
                    model_name="companionmemory",
                    name="content_tsv",
                    field=models.GeneratedField(
                        db_persist=True,
                        expression=SearchVector("content", config=models.F("ts_config")),
                        output_field=SearchVectorField(),
                    ),
                ),
                migrations.AddIndex(
                    model_name="companionmemory",
                    index=GinIndex(fields=["content_tsv"], name="idx_memories_content_tsv"),
                ),
            ],
        ),
        migrations.RunPython(detect_user_languages, migrations.RunPython.noop, elidable=True),
    ]
