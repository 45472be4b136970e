"""Django's PostgreSQL backend plus what eros needs before the first migration and under load.

* ``prepare_database`` (run by ``migrate`` before any table exists, including the test
  database) creates schema ``engine`` and the ``vector`` extension, so every table lands in
  ``engine`` through the ``search_path`` set in the connection options (DESIGN §3).
* With ``EMBEDDED_PGDATA`` in the database settings, the embedded server is started on the
  first connection and the connection goes through its Unix socket (``eros.db``). Every new
  connection first checks that the server accepts connections and starts it again if it
  died, so a killed server costs a few seconds of errors, not a manual restart.
* ``OPTIONS["pool"]`` (set from ``DB_POOL_*`` in settings) gives each process a bounded psycopg
  pool, as Django's own backend does, with two differences: the embedded server is ensured
  before each new pooled connection, and a connection that fails its health check on the way
  out of the pool drains the pool's idle connections, because what broke one (a server
  restart, a failover, a pooler restart) broke the others too.
* A forked child (django-q2 starts its processes with ``fork``) forgets the pool it inherited
  instead of sharing its sockets with the parent; it builds its own on first use.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.backends.postgresql import base as postgresql

from eros.db import ensure_server
from eros.dbbackend.client import DatabaseClient

NO_DB_ALIAS = "__no_db__"  # Django's alias for the maintenance ("postgres") connection

#: Pools and connections inherited through fork: kept referenced so that they are never
#: garbage-collected in the child, because closing them there would end the parent's sessions.
_inherited: list[Any] = []


def embedded_host(settings_dict: dict, *, probe: bool = True) -> str | None:
    """The embedded server's socket directory for these settings (started if needed), or None.

    ``probe`` as in :func:`eros.db.ensure_server`.
    """
    pgdata = settings_dict.get("EMBEDDED_PGDATA")
    if not pgdata:
        return None
    return ensure_server(
        pgdata, max_connections=settings_dict.get("EMBEDDED_MAX_CONNECTIONS"), probe=probe
    )


def _pooled_params(params: dict, settings_dict: dict) -> dict:
    """Connection parameters for one new pooled connection to the embedded server."""
    return {**params, "host": embedded_host(settings_dict)}


def _check_or_drain(conn) -> None:
    """The pool's health check: an empty query; on failure, drain the pool's idle connections.

    psycopg_pool checks one connection per attempt and backs off between attempts (1 s, 2 s,
    4 s ...), so a pool full of connections to a restarted server would keep a request waiting
    for many seconds; draining replaces them all at once.
    """
    from psycopg_pool import ConnectionPool

    try:
        ConnectionPool.check_connection(conn)
    except Exception:
        pool = getattr(conn, "_pool", None)  # set by getconn() before it runs the check
        if pool is not None:
            pool.drain()
        raise


class DatabaseWrapper(postgresql.DatabaseWrapper):
    client_class = DatabaseClient

    def get_connection_params(self):
        params = super().get_connection_params()
        # Django asks for these on every checkout even when the pool ignores them; the pool
        # probes the server itself before each new connection (_pooled_params).
        pooled = bool(self.settings_dict["OPTIONS"].get("pool"))
        host = embedded_host(self.settings_dict, probe=not pooled)
        if host:
            params["host"] = host
            params.pop("port", None)
        return params

    @property
    def pool(self):
        """This process's psycopg pool for this alias (None when pooling is off).

        Built like Django's (same options, ``configure`` and autocommit), with the embedded
        server ensured before each new connection and :func:`_check_or_drain` as the check
        when ``CONN_HEALTH_CHECKS`` is on.
        """
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in self._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise ImproperlyConfigured("Pooling doesn't support persistent connections.")
            from psycopg_pool import ConnectionPool

            params = self.get_connection_params()
            params["autocommit"] = True  # Django sets the real mode on checkout
            kwargs: Any = params
            if self.settings_dict.get("EMBEDDED_PGDATA"):
                kwargs = partial(_pooled_params, params, self.settings_dict)
            checks = self.settings_dict["CONN_HEALTH_CHECKS"]
            pool = ConnectionPool(
                kwargs=kwargs,
                open=False,  # opened on first use, not at import
                configure=self._configure_connection,
                check=_check_or_drain if checks else None,
                name=f"eros-{self.alias}-{os.getpid()}",
                **({} if pool_options is True else pool_options),
            )
            # Two threads may build a pool at once; the first one stored wins (as in Django).
            self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]

    def prepare_database(self):
        super().prepare_database()
        with self.cursor() as cursor:
            cursor.execute("CREATE SCHEMA IF NOT EXISTS engine")
            cursor.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public")


def _forget_inherited_pools() -> None:
    """In a forked child: drop the parent's pools and checked-out connections, unclosed.

    The child shares their sockets with the parent, and their maintenance threads did not
    survive the fork. Closing them would send a terminate message on the parent's sockets, so
    they are only kept out of reach (see ``_inherited``).
    """
    pools = postgresql.DatabaseWrapper._connection_pools
    _inherited.extend(pools.values())
    pools.clear()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None:
            _inherited.append(conn.connection)
            conn.connection = None


os.register_at_fork(after_in_child=_forget_inherited_pools)
