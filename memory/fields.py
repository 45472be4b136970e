"""Model fields for PostgreSQL types Django does not ship."""

from __future__ import annotations

from django.db import models


class RegConfigField(models.TextField):
    """A PostgreSQL ``regconfig`` (a text-search configuration's name, e.g. ``english``).

    Read and written as its name; an unknown name is refused by the database.
    """

    description = "PostgreSQL text-search configuration"

    def db_type(self, connection) -> str:
        return "regconfig"

    def get_placeholder(self, value, compiler, connection) -> str:
        return "%s::regconfig"
