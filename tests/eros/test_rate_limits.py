"""Per-user and per-IP rate limits: 429 ``rate_limited`` JSON with ``Retry-After``, state shared
in PostgreSQL, exact under simultaneous requests."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from rest_framework.test import APIClient

from eros.env import envrate
from eros.models import ApiRateLimit
from eros.throttling import client_network, rate_limit_hit, rate_limit_sweep
from tests.api import assert_error, db_snapshot
from tests.conftest import token_for


@pytest.fixture
def limits(settings):
    """``limits(user=..., ip=...)`` sets the rates (``None`` = off) on an empty table."""
    ApiRateLimit.objects.all().delete()

    def set_rates(*, user: str | None = None, ip: str | None = None) -> None:
        settings.API_RATE_LIMIT = user
        settings.API_RATE_LIMIT_IP = ip

    yield set_rates
    ApiRateLimit.objects.all().delete()  # transactional tests do not roll it back


def _client(user_id: uuid.UUID, address: str = "203.0.113.7", **headers) -> APIClient:
    client = APIClient(REMOTE_ADDR=address, **headers)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user_id)}")
    return client


def _history(client: APIClient, session):
    return client.get(f"/comp/chat/{session.id}/history")


def assert_rate_limited(response) -> int:
    """The 429 error shape with a whole-second ``Retry-After`` in [1, 60]; returns it."""
    assert_error(response, 429, "rate_limited")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


@pytest.mark.django_db
def test_a_user_over_the_limit_gets_429_with_retry_after_and_nothing_is_stored(
    alice_session, alice, bob, limits
):
    limits(user="3/min")
    client = _client(alice)
    assert [_history(client, alice_session).status_code for _ in range(3)] == [200] * 3

    before = db_snapshot()
    response = client.post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hello"}, format="json"
    )
    # 3 per minute: after a burst of three, the next request is allowed 20 seconds on.
    assert assert_rate_limited(response) in (19, 20)
    assert "throttled" in response.json()["message"]
    assert db_snapshot() == before

    # The limit is alice's, not the address's: bob, from the same address, is served.
    assert _client(bob).get(f"/comp/chat/{bob}/sessions").status_code == 200


@pytest.mark.django_db
def test_the_address_limit_counts_every_user_behind_it(alice_session, alice, bob, limits):
    limits(ip="3/min")
    assert _history(_client(alice), alice_session).status_code == 200
    assert _client(bob).get(f"/comp/chat/{bob}/sessions").status_code == 200
    assert _history(_client(alice), alice_session).status_code == 200
    assert_rate_limited(_client(bob).get(f"/comp/chat/{bob}/sessions"))
    # A forged X-Forwarded-For does not make a new client; another address does.
    forged = _client(bob, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert_rate_limited(forged.get(f"/comp/chat/{bob}/sessions"))
    other = _client(bob, address="198.51.100.1")
    assert other.get(f"/comp/chat/{bob}/sessions").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("loopback", ["127.0.0.1", "127.8.0.1", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_limited_per_user_only(alice_session, alice, bob, limits, loopback):
    """A local proxy that does not pass client addresses on must not limit all users at once."""
    limits(user="3/min", ip="2/min")
    statuses = [_history(_client(alice, loopback), alice_session).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert _client(bob, loopback).get(f"/comp/chat/{bob}/sessions").status_code == 200


@pytest.mark.django_db
def test_ipv6_clients_are_limited_by_their_64_network(alice_session, alice, limits):
    limits(ip="2/min")
    for address in ("2001:db8:1:2::a", "2001:db8:1:2:ffff::b"):
        assert _history(_client(alice, address), alice_session).status_code == 200
    assert_rate_limited(_history(_client(alice, "2001:db8:1:2::c"), alice_session))
    assert _history(_client(alice, "2001:db8:1:3::a"), alice_session).status_code == 200


@pytest.mark.django_db
def test_health_is_never_rate_limited(client, limits):
    limits(user="1/min", ip="1/min")
    assert [client.get("/healthz").status_code for _ in range(3)] == [200] * 3


@pytest.mark.django_db
def test_the_limits_are_off_in_tests_unless_a_test_sets_them(alice_session, alice):
    client = _client(alice)
    assert {_history(client, alice_session).status_code for _ in range(130)} == {200}


@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_cannot_exceed_the_limit(alice_session, alice, limits):
    """Fifteen requests at once, each thread on its own database connection, against a limit
    of five: exactly five are served (no hit is lost between reading and writing the counts)."""
    limits(user="5/min")
    calls = 15
    barrier = threading.Barrier(calls)

    def call(_):
        client = _client(alice)
        try:
            barrier.wait()
            return _history(client, alice_session).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(calls) as pool:
        statuses = list(pool.map(call, range(calls)))
    assert sorted(statuses) == [200] * 5 + [429] * 10


def test_rates_are_read_from_the_environment(monkeypatch):
    monkeypatch.delenv("API_RATE_LIMIT", raising=False)
    assert envrate("API_RATE_LIMIT", "120/min") == "120/min"
    for value, rate in [("30/s", "30/s"), (" 1000 / hour ", "1000/hour"), ("off", None)]:
        monkeypatch.setenv("API_RATE_LIMIT", value)
        assert envrate("API_RATE_LIMIT", "120/min") == rate
    for bad in ("120", "120/fortnight", "0/min", "x/min"):
        monkeypatch.setenv("API_RATE_LIMIT", bad)
        with pytest.raises(ImproperlyConfigured, match="API_RATE_LIMIT"):
            envrate("API_RATE_LIMIT", "120/min")


def test_clients_are_ipv4_addresses_or_ipv6_networks():
    assert client_network("203.0.113.7") == "203.0.113.7"
    assert client_network("2001:db8::1") == "2001:db8::/64"
    assert client_network("::ffff:203.0.113.7") == "203.0.113.7"
    assert client_network("not an address") == "not an address"


@pytest.mark.django_db
def test_the_document_lists_429_with_retry_after_on_every_api_operation(client):
    document = client.get("/api-docs/openapi.json").json()
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    api = [(p, m, o) for p, m, o in operations if p.startswith("/comp/")]
    assert len(api) >= 15
    for path, method, operation in api:
        limited = operation["responses"].get("429")
        assert limited, f"{method.upper()} {path} does not document 429"
        assert limited["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
        schema = limited["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    assert "429" not in document["paths"]["/healthz"]["get"]["responses"]


@pytest.mark.django_db
def test_a_rate_allows_a_burst_then_one_request_per_interval():
    """2 per 0.4 s: two at once, then one every 0.2 s; the wait says when."""
    key = f"test:{uuid.uuid4()}"
    assert rate_limit_hit(key=key, count=2, period_s=0.4) is None
    assert rate_limit_hit(key=key, count=2, period_s=0.4) is None
    wait = rate_limit_hit(key=key, count=2, period_s=0.4)
    assert wait is not None and 0.1 < wait <= 0.2
    time.sleep(wait + 0.02)
    assert rate_limit_hit(key=key, count=2, period_s=0.4) is None
    assert rate_limit_hit(key=key, count=2, period_s=0.4) is not None


@pytest.mark.django_db
def test_the_sweep_deletes_only_rows_that_limit_nobody():
    assert rate_limit_hit(key="test:idle", count=100, period_s=0.05) is None
    assert rate_limit_hit(key="test:busy", count=1, period_s=60) is None
    time.sleep(0.01)
    assert rate_limit_sweep() == 1
    assert list(ApiRateLimit.objects.values_list("key", flat=True)) == ["test:busy"]
    assert rate_limit_hit(key="test:busy", count=1, period_s=60) is not None
