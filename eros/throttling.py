"""Per-user and per-IP request limits on the API: 429 ``rate_limited`` with ``Retry-After``.

DRF's throttles (a sliding window of request times per key) with two choices of eros's own:

- The request times live in PostgreSQL, in Django's database cache (``CACHES["rate_limits"]``,
  table ``api_rate_limits``), because every web process on every host must see the same
  counts and PostgreSQL is the one store eros already has (DESIGN §2, scale-out).
- DRF reads the history, then writes it back; two requests of one key at the same moment would
  both read the old history and one hit would be lost, so a client sending many requests at
  once could exceed its limit by as many. Each check therefore holds a PostgreSQL advisory
  lock on its key for its short transaction, which makes it exact across processes.

Rates are read per request from ``API_RATE_LIMIT`` (per user) and ``API_RATE_LIMIT_IP`` (per
client address; IPv6 clients by their /64 network, which one host usually owns); ``None``
turns a limit off. The client address is ``REMOTE_ADDR``: ``X-Forwarded-For`` is not trusted
here, because a client could set it; behind a proxy, the web server puts the real client
address there (uvicorn's ``--forwarded-allow-ips``).
"""

from __future__ import annotations

import ipaddress
import math

from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from rest_framework.throttling import SimpleRateThrottle

#: First key of the two-key advisory locks taken here ("eros" in ASCII), so that they never
#: meet other advisory locks.
LOCK_NAMESPACE = 0x65726F73


class _SharedRateThrottle(SimpleRateThrottle):
    """A DRF rate throttle whose rate comes from ``settings.<setting>`` at request time and whose
    check is atomic across processes (see the module docstring)."""

    setting = ""

    @property
    def cache(self):
        return caches["rate_limits"]

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        with transaction.atomic(), connection.cursor() as cursor:
            # Released at commit; the cache reads and writes below run in this transaction.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [LOCK_NAMESPACE, key]
            )
            return super().allow_request(request, view)

    def wait(self) -> int | None:
        """Whole seconds until the next request is allowed (at least 1, for ``Retry-After``)."""
        seconds = super().wait()
        return None if seconds is None else max(1, math.ceil(seconds))


class UserRateThrottle(_SharedRateThrottle):
    """``API_RATE_LIMIT`` per authenticated user (the token's ``sub``)."""

    scope = "user"
    setting = "API_RATE_LIMIT"

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


class IpRateThrottle(_SharedRateThrottle):
    """``API_RATE_LIMIT_IP`` per client address (IPv6: per /64 network)."""

    scope = "ip"
    setting = "API_RATE_LIMIT_IP"

    def get_cache_key(self, request, view) -> str | None:
        address = request.META.get("REMOTE_ADDR") or ""
        return self.cache_format % {"scope": self.scope, "ident": client_network(address)}


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
