"""JWT authentication as in production: HS256 secret, JWKS (ES256, RS256, EdDSA), attacks.

JWKS come from an ``httpx.MockTransport`` (validator unit tests) or from a real HTTP server on
127.0.0.1 (API tests, where the validator is built from settings).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from eros.apps import check_token_validator
from eros.auth import InvalidToken, SupabaseTokenValidator
from tests.api import assert_error, db_snapshot

ROOT = Path(__file__).resolve().parents[2]
FAR_FUTURE = 4102444800  # 2100-01-01
HS_SECRET = "test-secret-companion-routes-0123456789"


class SigningKey:
    """A private key with its public JWK under ``kid``."""

    def __init__(self, alg: str, kid: str):
        self.alg, self.kid = alg, kid
        if alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        elif alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            jwk = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk = {**jwk, "kid": kid, "alg": alg, "use": "sig"}

    @property
    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict, **header) -> str:
        return jwt.encode(
            claims, self.private, algorithm=self.alg, headers={"kid": self.kid, **header}
        )


@pytest.fixture(scope="module")
def keys() -> dict[str, SigningKey]:
    return {alg: SigningKey(alg, f"kid-{alg.lower()}") for alg in ("ES256", "RS256", "EdDSA")}


def claims_for(user_id: uuid.UUID, **overrides) -> dict:
    claims = {
        "sub": str(user_id),
        "exp": FAR_FUTURE,
        "aud": "authenticated",
        "role": "authenticated",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class JwksEndpoint:
    """A MockTransport JWKS endpoint: serves ``keys``, counts requests, can fail."""

    def __init__(self, keys: list[dict]):
        self.keys = list(keys)
        self.requests = 0
        self.down = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.down:
            return httpx.Response(503, text="unavailable")
        return httpx.Response(200, json={"keys": self.keys})

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))


@pytest.fixture
def jwks_settings(settings):
    settings.SUPABASE_JWKS_URL = "https://example.supabase.co/auth/v1/.well-known/jwks.json"
    settings.SUPABASE_JWT_SECRET = ""
    return settings


# --- validator, JWKS path ----------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_jwks_tokens_of_each_algorithm_are_accepted(jwks_settings, keys, alice, alg):
    endpoint = JwksEndpoint([k.jwk for k in keys.values()])
    validator = SupabaseTokenValidator(http=endpoint.client())
    assert validator.validate(keys[alg].sign(claims_for(alice))) == alice
    assert validator.jwks.fetches == 1


def test_the_key_set_is_cached_across_tokens(jwks_settings, keys, alice, bob):
    endpoint = JwksEndpoint([keys["ES256"].jwk])
    validator = SupabaseTokenValidator(http=endpoint.client())
    for user in (alice, bob, alice):
        assert validator.validate(keys["ES256"].sign(claims_for(user))) == user
    assert endpoint.requests == 1


def test_a_rotated_key_is_fetched_on_its_unknown_kid_at_most_once_a_minute(
    jwks_settings, keys, alice
):
    endpoint = JwksEndpoint([keys["ES256"].jwk])
    clock = FakeClock()
    validator = SupabaseTokenValidator(http=endpoint.client(), clock=clock)
    validator.validate(keys["ES256"].sign(claims_for(alice)))
    rotated = SigningKey("ES256", "kid-rotated")

    # The provider has not published it yet: one refresh, then the cooldown holds.
    for _ in range(5):
        with pytest.raises(InvalidToken):
            validator.validate(rotated.sign(claims_for(alice)))
    assert endpoint.requests == 2

    endpoint.keys.append(rotated.jwk)
    clock.now += 30
    with pytest.raises(InvalidToken):
        validator.validate(rotated.sign(claims_for(alice)))
    assert endpoint.requests == 2  # still inside the minute

    clock.now += 31
    assert validator.validate(rotated.sign(claims_for(alice))) == alice
    assert endpoint.requests == 3


def test_the_last_good_key_set_survives_a_provider_outage(jwks_settings, keys, alice):
    endpoint = JwksEndpoint([keys["RS256"].jwk])
    validator = SupabaseTokenValidator(http=endpoint.client())
    validator.validate(keys["RS256"].sign(claims_for(alice)))
    endpoint.down = True
    validator.jwks.jwk_set_cache.jwk_set_with_timestamp = None  # cache expired
    assert validator.validate(keys["RS256"].sign(claims_for(alice))) == alice
    assert endpoint.requests == 2


def test_an_unreachable_jwks_without_a_cached_set_rejects_the_token(jwks_settings, keys, alice):
    endpoint = JwksEndpoint([])
    endpoint.down = True
    validator = SupabaseTokenValidator(http=endpoint.client())
    with pytest.raises(InvalidToken):
        validator.validate(keys["ES256"].sign(claims_for(alice)))


def test_symmetric_keys_in_a_jwks_are_never_used(jwks_settings, alice):
    secret = b"published-by-mistake-0123456789abcdef"
    oct_jwk = {
        "kty": "oct",
        "kid": "oct-1",
        "alg": "HS256",
        "k": base64.urlsafe_b64encode(secret).rstrip(b"=").decode(),
    }
    validator = SupabaseTokenValidator(http=JwksEndpoint([oct_jwk]).client())
    token = jwt.encode(claims_for(alice), secret, algorithm="HS256", headers={"kid": "oct-1"})
    with pytest.raises(InvalidToken):
        validator.validate(token)


def test_a_header_algorithm_other_than_the_keys_is_rejected(jwks_settings, keys, alice):
    # An RS256 key published under kid-es256 would let a token choose its algorithm.
    es = keys["ES256"]
    validator = SupabaseTokenValidator(http=JwksEndpoint([es.jwk]).client())
    forged = jwt.encode(
        claims_for(alice), keys["RS256"].private, algorithm="RS256", headers={"kid": es.kid}
    )
    with pytest.raises(InvalidToken, match="ES256"):
        validator.validate(forged)


def test_jwks_url_is_derived_from_supabase_url(settings, keys, alice):
    settings.SUPABASE_JWKS_URL = ""
    settings.SUPABASE_URL = "https://abc.supabase.co/"
    settings.SUPABASE_JWT_SECRET = ""
    seen = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(200, json={"keys": [keys["ES256"].jwk]})

    validator = SupabaseTokenValidator(http=httpx.Client(transport=httpx.MockTransport(handler)))
    assert validator.validate(keys["ES256"].sign(claims_for(alice))) == alice
    assert seen == ["https://abc.supabase.co/auth/v1/.well-known/jwks.json"]


# --- validator, HS256 path -------------------------------------------------------------------


def test_hs256_and_jwks_can_be_configured_together(jwks_settings, keys, alice, bob):
    jwks_settings.SUPABASE_JWT_SECRET = HS_SECRET
    validator = SupabaseTokenValidator(http=JwksEndpoint([keys["EdDSA"].jwk]).client())
    assert validator.validate(jwt.encode(claims_for(bob), HS_SECRET, algorithm="HS256")) == bob
    assert validator.validate(keys["EdDSA"].sign(claims_for(alice))) == alice


def test_hs256_is_refused_when_only_jwks_is_configured(jwks_settings, keys, alice):
    validator = SupabaseTokenValidator(http=JwksEndpoint([keys["ES256"].jwk]).client())
    with pytest.raises(InvalidToken, match="HS256"):
        validator.validate(jwt.encode(claims_for(alice), HS_SECRET, algorithm="HS256"))


def test_an_empty_audience_setting_skips_the_audience_check(settings, alice):
    settings.SUPABASE_JWT_SECRET, settings.JWT_AUDIENCE = HS_SECRET, ""
    token = jwt.encode(claims_for(alice, aud=None), HS_SECRET, algorithm="HS256")
    assert SupabaseTokenValidator().validate(token) == alice


# --- start-up --------------------------------------------------------------------------------


def _boot(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SUPABASE_", "EROS_"))}
    base.update(
        {
            "DJANGO_SETTINGS_MODULE": "eros.settings",
            # What production requires of the rest (eros.production), so only auth can refuse.
            "DJANGO_SECRET_KEY": "k3y-Z" * 11,
            "ALLOWED_HOSTS": "eros.example.com",
            "EROS_ENV_FILE": "",
        }
    )
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('booted')"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_a_jwt_source():
    result = _boot(EROS_ENV="production", SUPABASE_JWT_SECRET="")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "no JWT validation source" in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"SUPABASE_URL": "https://abc.supabase.co"},
        {"SUPABASE_JWKS_URL": "https://id.example.com/jwks.json"},
        {"SUPABASE_JWT_SECRET": "s3cret-of-at-least-thirty-two-chars"},
        {"EROS_TOKEN_VALIDATOR": "tests.eros.test_auth.StaticTokenValidator"},
    ],
    ids=["supabase-url", "jwks-url", "secret", "custom-validator"],
)
def test_production_starts_with_any_one_source(env, tmp_path):
    result = _boot(EROS_ENV="production", EROS_DATA_DIR=str(tmp_path), **env)
    assert result.returncode == 0, result.stderr
    assert "booted" in result.stdout


def test_an_unusable_validator_setting_fails_the_system_check(settings):
    settings.EROS_TOKEN_VALIDATOR = "eros.nowhere.Validator"
    (error,) = check_token_validator()
    assert error.id == "eros.E001" and "eros.nowhere.Validator" in error.msg
    settings.EROS_TOKEN_VALIDATOR = "eros.auth.SupabaseTokenValidator"
    assert check_token_validator() == []


# --- through the API -------------------------------------------------------------------------


class StaticTokenValidator:
    """A stand-in identity provider: the token ``letmein`` is alice, anything else fails."""

    def validate(self, token: str) -> uuid.UUID:
        if token == "letmein":
            return uuid.UUID("00000000-0000-4000-8000-00000000a11c")
        raise InvalidToken("not the magic word")


@pytest.mark.django_db
def test_a_custom_validator_class_replaces_the_supabase_one(settings):
    from rest_framework.test import APIClient

    settings.EROS_TOKEN_VALIDATOR = "tests.eros.test_auth.StaticTokenValidator"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer letmein")
    assert client.get("/comp/personas").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Bearer letmeout")
    assert_error(client.get("/comp/personas"), 401, "unauthorized")


@pytest.fixture(scope="module")
def jwks_server(keys):
    """A JWKS endpoint on 127.0.0.1 serving the three public keys."""
    body = json.dumps({"keys": [k.jwk for k in keys.values()]}).encode()
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server naming)
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/auth/v1/.well-known/jwks.json", hits
    server.shutdown()


@pytest.fixture
def jwks_api(settings, jwks_server):
    """Settings as in production: JWKS from the local server plus an HS256 secret."""
    url, _ = jwks_server
    settings.SUPABASE_JWKS_URL = url
    settings.SUPABASE_JWT_SECRET = HS_SECRET
    return settings


def _get_personas(authorization: str | None):
    from rest_framework.test import APIClient

    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get("/comp/personas")


@pytest.mark.django_db
@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA", "HS256"])
def test_the_api_accepts_valid_tokens_of_every_source(jwks_api, keys, alice, alg):
    if alg == "HS256":
        token = jwt.encode(claims_for(alice), HS_SECRET, algorithm="HS256")
    else:
        token = keys[alg].sign(claims_for(alice))
    assert _get_personas(f"Bearer {token}").status_code == 200


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _attacks(keys, alice) -> dict[str, str | None]:
    es = keys["ES256"]
    good = es.sign(claims_for(alice))
    header, _, signature = good.split(".")
    tampered_payload = _b64(claims_for(uuid.UUID(int=1)))
    unsigned = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims_for(alice)) + "."
    return {
        "alg-none": f"Bearer {unsigned}",
        "alg-none-with-kid": "Bearer "
        + _b64({"alg": "none", "kid": es.kid})
        + "."
        + _b64(claims_for(alice))
        + ".",
        "hs256-signed-with-jwks-public-key": "Bearer " + _hs256_with_public_key(es, alice),
        "wrong-audience": f"Bearer {es.sign(claims_for(alice, aud='service_role'))}",
        "expired": f"Bearer {es.sign(claims_for(alice, exp=int(time.time()) - 3600))}",
        "no-exp": f"Bearer {es.sign(claims_for(alice, exp=None))}",
        "non-uuid-sub": f"Bearer {es.sign(claims_for(alice, sub='alice'))}",
        "no-sub": f"Bearer {es.sign(claims_for(alice, sub=None))}",
        "unknown-kid": f"Bearer {SigningKey('ES256', 'kid-unknown').sign(claims_for(alice))}",
        "foreign-key-known-kid": "Bearer "
        + jwt.encode(
            claims_for(alice),
            ec.generate_private_key(ec.SECP256R1()),
            algorithm="ES256",
            headers={"kid": es.kid},
        ),
        "tampered-payload": f"Bearer {header}.{tampered_payload}.{signature}",
        "garbage": "Bearer not.a.jwt",
        "bearer-missing": good,
        "lowercase-scheme": f"bearer {good}",
        "empty": "Bearer ",
        "no-header": None,
    }


def _hs256_with_public_key(key: SigningKey, alice) -> str:
    """The algorithm-confusion forgery: HS256 keyed with the public PEM anyone can fetch."""
    import hashlib
    import hmac

    signing_input = (
        _b64({"alg": "HS256", "typ": "JWT", "kid": key.kid}) + "." + _b64(claims_for(alice))
    )
    mac = hmac.new(key.public_pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


#: attack -> why the validator refuses it (None: refused before the validator runs).
REASONS = {
    "alg-none": "unsupported algorithm 'none'",
    "alg-none-with-kid": "unsupported algorithm 'none'",
    "hs256-signed-with-jwks-public-key": ("Signature verification failed", "HS256 tokens are not"),
    "wrong-audience": "Audience doesn't match",
    "expired": "Signature has expired",
    "no-exp": 'missing the "exp" claim',
    "non-uuid-sub": "sub is not a UUID",
    "no-sub": 'missing the "sub" claim',
    "unknown-kid": "no signing key with kid 'kid-unknown'",
    "foreign-key-known-kid": "Signature verification failed",
    "tampered-payload": "Signature verification failed",
    "garbage": "malformed token",
    "bearer-missing": None,
    "lowercase-scheme": None,
    "empty": None,
    "no-header": None,
}
ATTACKS = list(REASONS)


@pytest.mark.django_db
@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("hs256_configured", [True, False], ids=["with-secret", "jwks-only"])
def test_every_jwt_attack_is_a_401_with_the_json_body(
    jwks_api, keys, alice, alice_session, attack, hs256_configured, caplog
):
    from rest_framework.test import APIClient

    if not hs256_configured:
        jwks_api.SUPABASE_JWT_SECRET = ""
    authorization = _attacks(keys, alice)[attack]
    before = db_snapshot()
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    response = client.post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hi"}, format="json"
    )
    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert db_snapshot() == before
    rejected = [r.getMessage() for r in caplog.records if r.getMessage().startswith("token rej")]
    reason = REASONS[attack]
    if reason is None:
        assert rejected == []
    else:
        expected = reason[0 if hs256_configured else 1] if isinstance(reason, tuple) else reason
        assert len(rejected) == 1 and expected in rejected[0], rejected
