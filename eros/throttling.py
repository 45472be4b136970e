"""Per-user and per-IP request limits on the API: 429 ``rate_limited`` with ``Retry-After``.

DRF throttle classes (``DEFAULT_THROTTLE_CLASSES``), with their state in PostgreSQL, the one
store every web process on every host already shares (DESIGN §2, scale-out). Each check is
one atomic statement on table ``api_rate_limits`` (:class:`eros.models.ApiRateLimit`):

- The limit is the generic cell rate algorithm (GCRA): a rate of N per period P allows a burst
  of N requests, then one every P/N seconds. A key's whole state is one timestamp, the
  *theoretical arrival time* ``tat``: a request at ``now`` is allowed when
  ``max(tat, now) + P/N <= now + P``, and then moves ``tat`` to ``max(tat, now) + P/N``.
- ``INSERT … ON CONFLICT DO UPDATE … WHERE`` decides and records in one statement under the
  row lock, so simultaneous requests of one key cannot slip past the limit together, whichever
  process serves them, and all times come from the database's clock.

(DRF's stock throttles keep a list of request times in Django's cache and read, then write it
back; on a shared cache two simultaneous requests lose one hit, and making that exact costs a
lock and about eight statements per limit instead of one.)

Rates are read per request from ``API_RATE_LIMIT`` (per user) and ``API_RATE_LIMIT_IP`` (per
client address; IPv6 clients by their /64 network, which one host usually owns); ``None``
turns a limit off. The client address is ``REMOTE_ADDR``: ``X-Forwarded-For`` is not trusted
here, because a client could set it; behind a proxy, the web server puts the real client
address there (uvicorn's ``--forwarded-allow-ips``).
"""

from __future__ import annotations

import ipaddress
import itertools
import math

from django.conf import settings
from django.db import connection
from rest_framework.throttling import BaseThrottle

_PERIOD_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Every this many checks a process deletes the rows that no longer limit anyone.
SWEEP_EVERY = 1000
_checks = itertools.count(1)

_HIT = """
INSERT INTO api_rate_limits AS r (key, tat)
VALUES (%(key)s, statement_timestamp() + %(interval)s * interval '1 second')
ON CONFLICT (key) DO UPDATE
    SET tat = GREATEST(r.tat + %(interval)s * interval '1 second', EXCLUDED.tat)
    WHERE GREATEST(r.tat + %(interval)s * interval '1 second', EXCLUDED.tat)
        <= EXCLUDED.tat + (%(period)s - %(interval)s) * interval '1 second'
RETURNING 1
"""
_WAIT = """
SELECT EXTRACT(EPOCH FROM tat - statement_timestamp()) FROM api_rate_limits WHERE key = %s
"""


def parse_rate(rate: str) -> tuple[int, int]:
    """``"120/min"`` → ``(120, 60)``: requests and the period in seconds (as DRF reads rates)."""
    count, period = rate.split("/")
    return int(count), _PERIOD_S[period.strip()[0]]


def rate_limit_hit(*, key: str, count: int, period_s: float) -> float | None:
    """Record one request of ``key`` against ``count`` per ``period_s`` seconds.

    Returns ``None`` when it is allowed, else the seconds until the next one will be (> 0).
    One statement when allowed, two when not; safe under any concurrency.
    """
    interval = period_s / count
    with connection.cursor() as cursor:
        cursor.execute(_HIT, {"key": key, "interval": interval, "period": period_s})
        if cursor.fetchone() is not None:
            return None
        cursor.execute(_WAIT, [key])
        row = cursor.fetchone()
    ahead = float(row[0]) if row else 0.0
    return max(ahead + interval - period_s, 0.001)


def rate_limit_sweep() -> int:
    """Delete the rows whose ``tat`` has passed (they limit nobody); returns how many."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM api_rate_limits WHERE tat < statement_timestamp()")
        return cursor.rowcount


class _RateThrottle(BaseThrottle):
    """A DRF throttle on the rate named by ``setting``, keyed by :meth:`ident`."""

    scope = ""
    setting = ""

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        rate = getattr(settings, self.setting)
        ident = self.ident(request) if rate else None
        if ident is None:
            return True
        if next(_checks) % SWEEP_EVERY == 0:
            rate_limit_sweep()
        count, period_s = parse_rate(rate)
        key = f"{self.scope}:{ident}"
        self.retry_after = rate_limit_hit(key=key, count=count, period_s=period_s)
        return self.retry_after is None

    def wait(self) -> int:
        """Whole seconds until the next request is allowed (at least 1, for ``Retry-After``)."""
        return max(1, math.ceil(self.retry_after or 0))


class UserRateThrottle(_RateThrottle):
    """``API_RATE_LIMIT`` per authenticated user (the token's ``sub``)."""

    scope = "user"
    setting = "API_RATE_LIMIT"

    def ident(self, request) -> str | None:
        user = request.user
        return str(user.pk) if getattr(user, "is_authenticated", False) else None


class IpRateThrottle(_RateThrottle):
    """``API_RATE_LIMIT_IP`` per client address (IPv6: per /64 network); loopback is exempt.

    A request from loopback comes from local tooling or from a reverse proxy on the same host
    that did not pass the client's address on; limiting that "address" would limit every
    user at once, so such requests are only limited per user.
    """

    scope = "ip"
    setting = "API_RATE_LIMIT_IP"

    def ident(self, request) -> str | None:
        address = request.META.get("REMOTE_ADDR") or ""
        if _is_loopback(address):
            return None
        return client_network(address)


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is loopback too
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def client_network(address: str) -> str:
    """The unit one client is limited by: the IPv4 address, or the IPv6 /64 network.

    An IPv4-mapped IPv6 address counts as its IPv4 address; anything unparsable is used as is.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
