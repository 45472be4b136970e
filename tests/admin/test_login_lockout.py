"""Admin login lockout (django-axes): after ADMIN_LOGIN_FAILURE_LIMIT failed logins from one
address, that address is refused even with the right password; other addresses are not."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from axes.models import AccessAttempt
from django.test import AsyncClient, Client

LOGIN = "/admin/login/?next=/admin/"
ATTACKER = "203.0.113.66"


def _login(client, password: str, address: str = ATTACKER):
    return client.post(
        LOGIN, {"username": "admin", "password": password}, REMOTE_ADDR=address
    )


class AttackerAsyncClient(AsyncClient):
    """Requests through Django's ASGI handler, from ATTACKER (under ASGI the address comes from
    the connection, the scope's ``client``)."""

    def _base_scope(self, **request):
        return {**super()._base_scope(**request), "client": [ATTACKER, 40000]}


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_the_failure_limit_locks_the_address_out_even_with_the_right_password(
    admin_user, settings
):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 5  # ADMIN_LOGIN_FAILURE_LIMIT's default
    client = Client()
    statuses = [_login(client, f"guess-{i}").status_code for i in range(limit)]
    # Wrong passwords show the form again, until the one that reaches the limit.
    assert statuses == [200] * (limit - 1) + [429]

    response = _login(client, "password")  # pytest-django's admin_user password
    assert response.status_code == 429
    assert b"too many login attempts" in response.content
    assert not _logged_in(client)
    attempt = AccessAttempt.objects.get(ip_address=ATTACKER)
    assert attempt.failures_since_start == limit + 1

    # Another address logs in with the right password, and the lock stays with the first one.
    elsewhere = Client()
    response = _login(elsewhere, "password", address="198.51.100.5")
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert _logged_in(elsewhere)
    assert _login(Client(), "password").status_code == 429


@pytest.mark.django_db
def test_a_forged_forwarded_address_does_not_escape_the_lockout(admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    client = Client()
    assert [_login(client, "wrong").status_code for _ in range(2)] == [200, 429]
    response = client.post(
        LOGIN,
        {"username": "admin", "password": "password"},
        REMOTE_ADDR=ATTACKER,
        HTTP_X_FORWARDED_FOR="198.51.100.77",
    )
    assert response.status_code == 429
    assert not _logged_in(client)


@pytest.mark.django_db
def test_the_lockout_holds_under_asgi(admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 3

    @async_to_sync
    async def attempts() -> list[int]:
        client = AttackerAsyncClient()
        statuses = []
        for password in ("a", "b", "c", "password"):
            response = await client.post(LOGIN, {"username": "admin", "password": password})
            statuses.append(response.status_code)
        return statuses

    assert attempts() == [200, 200, 429, 429]
    assert AccessAttempt.objects.get(ip_address=ATTACKER).failures_since_start == 4


@pytest.mark.django_db
def test_a_successful_login_clears_earlier_failures(admin_user, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    assert [_login(client, "wrong").status_code for _ in range(2)] == [200, 200]
    assert _login(client, "password").status_code == 302
    assert not AccessAttempt.objects.filter(ip_address=ATTACKER).exists()
    assert [_login(Client(), "wrong").status_code for _ in range(2)] == [200, 200]
