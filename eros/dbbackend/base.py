"""Django's PostgreSQL backend plus what eros needs before the first migration.

* ``prepare_database`` (run by ``migrate`` before any table exists, including the test
  database) creates schema ``engine`` and the ``vector`` extension, so every table lands in
  ``engine`` through the ``search_path`` set in the connection options (DESIGN §3).
* With ``EMBEDDED_PGDATA`` in the database settings, the embedded server is started on the
  first connection and the connection goes through its Unix socket (``eros.db``).
"""

from __future__ import annotations

from django.db.backends.postgresql import base as postgresql

from eros.db import ensure_server
from eros.dbbackend.client import DatabaseClient


class DatabaseWrapper(postgresql.DatabaseWrapper):
    client_class = DatabaseClient

    def get_connection_params(self):
        params = super().get_connection_params()
        pgdata = self.settings_dict.get("EMBEDDED_PGDATA")
        if pgdata:
            params["host"] = ensure_server(pgdata)
            params.pop("port", None)
        return params

    def prepare_database(self):
        super().prepare_database()
        with self.cursor() as cursor:
            cursor.execute("CREATE SCHEMA IF NOT EXISTS engine")
            cursor.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public")
