"""Erase a user's memories of both layers (part of ``DELETE /comp/user/{user_id}/data``)."""

from __future__ import annotations

import uuid

from django.db import connection


def memory_erase_user(*, user_id: uuid.UUID) -> int:
    """Delete every memory of ``user_id``; returns how many rows went.

    Matched by the memory's user and, for rows written from the user's sessions, by session
    (the foreign key to ``chat_sessions`` is memory's one documented data-level tie to the chat
    tables). Run it before the sessions are deleted, inside the caller's transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            DELETE FROM companion_memories
            WHERE user_id = %s
               OR session_id IN (SELECT id FROM chat_sessions WHERE user_id = %s)
            """,
            [user_id, user_id],
        )
        return cursor.rowcount
