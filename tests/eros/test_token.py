"""``manage.py token`` and the development secret."""

from __future__ import annotations

import uuid
from io import StringIO

import jwt
import pytest
from django.core.management import call_command

from eros.auth import InvalidToken, SupabaseTokenValidator, hs256_secret


def test_token_command_prints_a_token_the_api_accepts(alice):
    out = StringIO()
    call_command("token", "--user", str(alice), stdout=out)
    token = out.getvalue().strip()
    assert SupabaseTokenValidator().validate(token) == alice
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "authenticated" and claims["exp"] > claims["iat"]


def test_development_secret_is_generated_once_and_private(settings, tmp_path):
    settings.EROS_DATA_DIR = tmp_path
    settings.SUPABASE_JWT_SECRET = ""
    first = hs256_secret()
    assert first and hs256_secret() == first
    assert oct((tmp_path / "jwt_dev_secret").stat().st_mode & 0o777) == "0o600"


def _sign(claims, secret=None, **headers):
    return jwt.encode(claims, secret or hs256_secret(), algorithm="HS256", headers=headers or None)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "not-a-uuid", "exp": 4102444800, "aud": "authenticated"},
        {"sub": str(uuid.uuid4()), "aud": "authenticated"},
        {"sub": str(uuid.uuid4()), "exp": 4102444800, "aud": "someone-else"},
        {"exp": 4102444800, "aud": "authenticated"},
    ],
    ids=["non-uuid-sub", "no-exp", "wrong-audience", "no-sub"],
)
def test_tokens_breaking_a_rule_are_rejected(claims):
    with pytest.raises(InvalidToken):
        SupabaseTokenValidator().validate(_sign(claims))


def test_alg_none_is_rejected():
    token = jwt.encode(
        {"sub": str(uuid.uuid4()), "exp": 4102444800, "aud": "authenticated"},
        None,
        algorithm="none",
    )
    with pytest.raises(InvalidToken):
        SupabaseTokenValidator().validate(token)
