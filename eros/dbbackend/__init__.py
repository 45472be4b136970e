"""PostgreSQL backend for eros: the ``engine`` schema, pgvector, and the embedded server."""
