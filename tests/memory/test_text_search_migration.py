"""The migration that stems each memory in its language works on rows written before it."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("memory", "0004_memory_vectors_inline")]
AFTER = [("memory", "0005_memory_text_search_language")]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.fixture(autouse=True)
def _back_to_the_latest_migration():
    """Later migrations exist: leave the database fully migrated for the tests after this one."""
    yield
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes("memory"))


@pytest.mark.django_db(transaction=True)
def test_existing_rows_get_their_user_language_and_a_stemmed_text_vector():
    english_user, unknown_user = uuid.uuid4(), uuid.uuid4()
    migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            for user, lines in (
                (
                    english_user,
                    [
                        "I was running along the canal every morning before my shifts",
                        "my sister lives in Leeds and she teaches chemistry",
                    ],
                ),
                (unknown_user, ["ok", "haha"]),
            ):
                session = uuid.uuid4()
                cursor.execute(
                    "INSERT INTO chat_sessions (id, user_id, instance_id, last_active_at,"
                    " created_at, metadata, lead_score, is_converted, classification_attempts)"
                    " VALUES (%s, %s, NULL, now(), now(), '{}', 0, false, 0)",
                    [session, user],
                )
                for line in lines:
                    cursor.execute(
                        "INSERT INTO companion_memories (session_id, user_id, content, embedding)"
                        " VALUES (%s, %s, %s, array_fill(0.1, ARRAY[512])::vector)",
                        [session, user, line],
                    )
            cursor.execute(
                "SELECT content_tsv::text FROM companion_memories WHERE content LIKE 'I was%%'"
            )
            assert "'running'" in cursor.fetchone()[0]  # simple: not stemmed before
    finally:
        migrate(AFTER)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id, ts_config::text, content_tsv::text FROM companion_memories"
            " ORDER BY user_id, content"
        )
        rows = cursor.fetchall()
    configs = {user: config for user, config, _ in rows}
    assert configs == {english_user: "english", unknown_user: "simple"}
    stemmed = [tsv for user, _, tsv in rows if user == english_user]
    assert "'run'" in stemmed[0] and "'teach'" in stemmed[1]
