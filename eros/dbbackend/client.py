"""``manage.py dbshell`` against the embedded server: psql through its socket."""

from django.db.backends.postgresql.client import DatabaseClient as PostgresClient

from eros.db import ensure_server


class DatabaseClient(PostgresClient):
    @classmethod
    def settings_to_cmd_args_env(cls, settings_dict, parameters):
        pgdata = settings_dict.get("EMBEDDED_PGDATA")
        if pgdata:
            host = ensure_server(
                pgdata, max_connections=settings_dict.get("EMBEDDED_MAX_CONNECTIONS")
            )
            settings_dict = {**settings_dict, "HOST": host, "PORT": ""}
        return super().settings_to_cmd_args_env(settings_dict, parameters)
