"""Erase everything eros holds about one user (``DELETE /comp/user/{user_id}/data``).

Rows keyed by the user: chat sessions with their messages, affinity rows and affinity events
(here); memories of both layers, the insight profile and persona instances (through each app's
own erase service). Deleted with plain SQL in one transaction (the ORM's delete would load
every message into Python first), children before parents so the per-kind counts are exact.
"""

from __future__ import annotations

import uuid

from django.db import connection, transaction

from insights.services import insight_erase_user
from memory.services.erase import memory_erase_user
from personas.services import persona_instances_erase_user

#: (name in the result, statement); each takes the user id as its only parameter.
_STATEMENTS = (
    (
        "affinity_events",
        """DELETE FROM companion_affinity_events
           WHERE affinity_id IN (SELECT id FROM companion_affinity WHERE user_id = %s)""",
    ),
    (
        "affinity_events",
        """DELETE FROM companion_affinity_events WHERE affinity_id IN (
               SELECT a.id FROM companion_affinity a
               JOIN chat_sessions s ON s.id = a.session_id WHERE s.user_id = %s)""",
    ),
    ("affinity", "DELETE FROM companion_affinity WHERE user_id = %s"),
    (
        "affinity",
        """DELETE FROM companion_affinity
           WHERE session_id IN (SELECT id FROM chat_sessions WHERE user_id = %s)""",
    ),
    (
        "messages",
        "DELETE FROM chat_messages WHERE session_id IN "
        "(SELECT id FROM chat_sessions WHERE user_id = %s)",
    ),
    ("sessions", "DELETE FROM chat_sessions WHERE user_id = %s"),
)

ERASED_KINDS = (
    "sessions",
    "messages",
    "affinity",
    "affinity_events",
    "memories",
    "insights",
    "persona_instances",
)


def user_data_erase(*, user_id: uuid.UUID) -> dict[str, int]:
    """Delete every row about ``user_id``; returns rows deleted per kind (:data:`ERASED_KINDS`).

    Rows are matched by the user column of each table and, for the children of sessions and
    affinity rows, through the user's sessions too. Idempotent: a user with no data gives zeros.
    Rows of other users are untouched.
    """
    counts = dict.fromkeys(ERASED_KINDS, 0)
    with transaction.atomic():
        # Memories point at sessions, so they go first.
        counts["memories"] = memory_erase_user(user_id=user_id)
        with connection.cursor() as cursor:
            for kind, sql in _STATEMENTS:
                cursor.execute(sql, [user_id])
                counts[kind] += cursor.rowcount
        counts["insights"] = insight_erase_user(user_id=user_id)
        counts["persona_instances"] = persona_instances_erase_user(owner_uid=user_id)
    return counts
