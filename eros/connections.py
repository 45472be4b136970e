"""Handing pooled database connections back early, around slow work outside transactions.

Django keeps a request's connection until the request ends. With a bounded pool (settings
``DB_POOL_*``) a turn that waits seconds for a model would hold one of a few connections for
all that time, so the pool, not the database, would cap how many turns run at once; a
streamed turn would even hold two (the request's and its worker thread's), and enough of them
at once could take every connection and wait for each other. The pipeline calls
:func:`release_connection` before such waits; the next query takes a connection again.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections


def release_connection(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Return this thread's pooled connection of ``alias`` to its pool; True if one was.

    A no-op (False) without a pool, without an open connection, or inside a transaction
    (``atomic``), where the connection must stay. Safe to call anywhere.
    """
    conn = connections[alias]
    if conn.connection is None or conn.in_atomic_block or not getattr(conn, "pool", None):
        return False
    conn.close()
    return True
