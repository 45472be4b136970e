"""JWT authentication for ``/comp/*``: the user is the token's ``sub`` (a UUID).

Validation (DESIGN §9 item 9, reference eros-engine-server.md §4): HS256 with
``SUPABASE_JWT_SECRET`` (or, in development with no source configured, a secret generated into
``EROS_DATA_DIR``); ``exp`` is required; ``aud`` must equal ``JWT_AUDIENCE``; ``sub`` must be a
UUID. Any failure is a 401 with the JSON error body. The validator class is pluggable through
``EROS_TOKEN_VALIDATOR`` for other identity providers: it needs a ``validate(token) -> UUID``
method raising :class:`InvalidToken`.
"""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from rest_framework import authentication, exceptions

from eros.env import data_secret

DEV_SECRET_FILE = "jwt_dev_secret"


class InvalidToken(Exception):
    """The token is not acceptable; the message says why (never shown to the client verbatim)."""


@dataclass(frozen=True)
class CompanionUser:
    """The authenticated caller: only an id, since users live in the identity provider."""

    id: uuid.UUID
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> uuid.UUID:
        return self.id


def hs256_secret() -> str | None:
    """The HS256 secret in force: ``SUPABASE_JWT_SECRET``, else the development secret, else None.

    The development secret exists only when ``EROS_ENV=development`` and no JWKS source is set.
    """
    if settings.SUPABASE_JWT_SECRET:
        return settings.SUPABASE_JWT_SECRET
    if settings.EROS_ENV == "development" and not (
        settings.SUPABASE_JWKS_URL or settings.SUPABASE_URL
    ):
        return data_secret(settings.EROS_DATA_DIR, DEV_SECRET_FILE)
    return None


class SupabaseTokenValidator:
    """Validates Supabase-style access tokens (HS256 secret)."""

    def __init__(self) -> None:
        self.secret = hs256_secret()
        if self.secret is None:
            raise ImproperlyConfigured(
                "no JWT validation source: set SUPABASE_JWT_SECRET (or EROS_ENV=development)"
            )
        self.audience = settings.JWT_AUDIENCE or None
        self.leeway = settings.JWT_LEEWAY_S

    def validate(self, token: str) -> uuid.UUID:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from exc
        if header.get("alg") != "HS256":
            raise InvalidToken(f"unsupported algorithm {header.get('alg')!r}")
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                audience=self.audience,
                leeway=self.leeway,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        return parse_subject(claims.get("sub"))


def parse_subject(sub: object) -> uuid.UUID:
    """The ``sub`` claim as a UUID; raises :class:`InvalidToken` otherwise."""
    if not isinstance(sub, str):
        raise InvalidToken("sub must be a string UUID")
    try:
        return uuid.UUID(sub)
    except ValueError as exc:
        raise InvalidToken("sub is not a UUID") from exc


@functools.cache
def _validator_for(path: str):
    return import_string(path)()


def get_validator():
    """The configured validator instance (built once per process and settings value)."""
    return _validator_for(settings.EROS_TOKEN_VALIDATOR)


def mint_token(user_id: uuid.UUID, *, ttl_s: int = 7 * 24 * 3600) -> str:
    """An HS256 token for ``user_id`` valid ``ttl_s`` seconds, signed with the secret in force.

    Raises ImproperlyConfigured when only JWKS is configured (eros cannot sign those tokens).
    """
    secret = hs256_secret()
    if secret is None:
        raise ImproperlyConfigured(
            "cannot mint tokens: only JWKS validation is configured (tokens come from your "
            "identity provider); set SUPABASE_JWT_SECRET to mint HS256 tokens"
        )
    now = int(time.time())
    claims = {"sub": str(user_id), "exp": now + ttl_s, "iat": now, "role": "authenticated"}
    if settings.JWT_AUDIENCE:
        claims["aud"] = settings.JWT_AUDIENCE
    return jwt.encode(claims, secret, algorithm="HS256")


class JWTAuthentication(authentication.BaseAuthentication):
    """DRF authentication: ``Authorization: Bearer <JWT>``; 401 JSON on any failure."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None  # -> NotAuthenticated (401) from the permission check
        try:
            text = header.decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("authorization header is not ASCII") from None
        scheme, _, token = text.partition(" ")
        if scheme != self.keyword or not token.strip():
            raise exceptions.AuthenticationFailed("expected 'Authorization: Bearer <token>'")
        try:
            user_id = get_validator().validate(token.strip())
        except InvalidToken:
            raise exceptions.AuthenticationFailed("invalid or expired token") from None
        return CompanionUser(id=user_id), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="eros"'
