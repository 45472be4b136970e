"""The kernel's one table: the state of the API rate limits (see :mod:`eros.throttling`)."""

from __future__ import annotations

from django.db import models


class ApiRateLimit(models.Model):
    """One rate-limited client: ``key`` is ``"<scope>:<ident>"`` (``user:<uuid>`` or
    ``ip:<address or /64 network>``) and ``tat`` its GCRA *theoretical arrival time*.

    A row whose ``tat`` has passed limits nobody and is swept; written only by raw SQL in
    :func:`eros.throttling.rate_limit_hit`.
    """

    key = models.TextField(primary_key=True)
    tat = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "api_rate_limits"
        verbose_name = "API rate limit"

    def __str__(self) -> str:
        return self.key
