"""JWT authentication for ``/comp/*``: the user is the token's ``sub`` (a UUID).

Validation (DESIGN §9 item 9, reference eros-engine-server.md §4):

- ``HS256`` tokens are checked with ``SUPABASE_JWT_SECRET`` (or, in development with no source
  configured, a secret generated into ``EROS_DATA_DIR``);
- ``ES256``, ``RS256`` and ``EdDSA`` tokens are checked with the key of their ``kid`` from the
  JWKS at ``SUPABASE_JWKS_URL`` (or ``SUPABASE_URL`` + ``/auth/v1/.well-known/jwks.json``); the
  key's own algorithm must match the header's, so a token cannot pick a weaker one;
- any other ``alg`` (``none`` included) is refused;
- ``exp`` and ``sub`` are required, ``aud`` must equal ``JWT_AUDIENCE`` (when set), ``sub``
  must be a UUID; ``JWT_LEEWAY_S`` of clock skew is allowed.

The JWKS is fetched lazily, cached for :data:`JWKS_CACHE_S`, re-fetched when a token names an
unknown ``kid`` (at most once per :data:`JWKS_REFRESH_COOLDOWN_S`, so forged kids cannot make
eros hammer the identity provider), and the last good key set is kept through an outage.

Any failure is a 401 with the JSON error body. The validator class is pluggable through
``EROS_TOKEN_VALIDATOR`` for other identity providers: any class whose instances have a
``validate(token: str) -> uuid.UUID`` method raising :class:`InvalidToken` (see
:class:`TokenValidator`).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from rest_framework import authentication, exceptions

from eros.env import data_secret

logger = logging.getLogger(__name__)

#: The development user: `up`, `token`, `chat` and the playground act as this user by default.
DEV_USER_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")

DEV_SECRET_FILE = "jwt_dev_secret"
DEFAULT_VALIDATOR = "eros.auth.SupabaseTokenValidator"
#: Asymmetric algorithms accepted from the JWKS (Supabase signs with ES256 by default).
JWKS_ALGORITHMS = frozenset({"ES256", "RS256", "EdDSA"})
#: How long a fetched key set is used before it is fetched again, seconds.
JWKS_CACHE_S = 600.0
#: Minimum time between two re-fetches caused by an unknown ``kid``, seconds.
JWKS_REFRESH_COOLDOWN_S = 60.0
NO_SOURCE_MESSAGE = (
    "no JWT validation source: set SUPABASE_URL or SUPABASE_JWKS_URL (JWKS) and/or "
    "SUPABASE_JWT_SECRET (HS256), or EROS_TOKEN_VALIDATOR to your own validator"
)


class InvalidToken(Exception):
    """The token is not acceptable; the message says why (never shown to the client verbatim)."""


class TokenValidator(Protocol):
    """What ``EROS_TOKEN_VALIDATOR`` must name: a class built with no arguments whose
    ``validate`` returns the caller's user id or raises :class:`InvalidToken`."""

    def validate(self, token: str) -> uuid.UUID: ...


@dataclass(frozen=True)
class CompanionUser:
    """The authenticated caller: only an id, since users live in the identity provider."""

    id: uuid.UUID
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> uuid.UUID:
        return self.id


def jwks_url() -> str | None:
    """``SUPABASE_JWKS_URL``, else the JWKS URL derived from ``SUPABASE_URL``, else None."""
    if settings.SUPABASE_JWKS_URL:
        return settings.SUPABASE_JWKS_URL
    if settings.SUPABASE_URL:
        return settings.SUPABASE_URL.rstrip("/") + "/auth/v1/.well-known/jwks.json"
    return None


def hs256_secret() -> str | None:
    """The HS256 secret in force: ``SUPABASE_JWT_SECRET``, else the development secret, else None.

    The development secret exists only when ``EROS_ENV=development`` and no JWKS source is set.
    """
    if settings.SUPABASE_JWT_SECRET:
        return settings.SUPABASE_JWT_SECRET
    if settings.EROS_ENV == "development" and jwks_url() is None:
        return data_secret(settings.EROS_DATA_DIR, DEV_SECRET_FILE)
    return None


def check_token_sources() -> None:
    """Refuse to start outside development without a JWT source (or a custom validator).

    Called from ``ErosConfig.ready``, so every process (web, worker, commands) fails at start-up
    instead of rejecting every request later. Raises ``ImproperlyConfigured``.
    """
    if settings.EROS_ENV == "development" or settings.EROS_TOKEN_VALIDATOR != DEFAULT_VALIDATOR:
        return
    if not (settings.SUPABASE_JWT_SECRET or jwks_url()):
        raise ImproperlyConfigured(f"EROS_ENV={settings.EROS_ENV}: {NO_SOURCE_MESSAGE}")


class HttpxJWKClient(jwt.PyJWKClient):
    """PyJWT's JWKS client, fetching through an injectable ``httpx.Client``.

    Keeps PyJWT's key-set cache (``lifespan`` seconds) and key parsing; adds: only keys of
    :data:`JWKS_ALGORITHMS` are usable, an unknown ``kid`` re-fetches the set at most once per
    ``refresh_cooldown_s`` (measured with ``clock``), and a failed fetch falls back to the last
    good key set when there is one. ``fetches`` counts HTTP requests made.
    """

    def __init__(
        self,
        uri: str,
        *,
        http: httpx.Client | None = None,
        lifespan: float = JWKS_CACHE_S,
        refresh_cooldown_s: float = JWKS_REFRESH_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        # PyJWT's own cooldown is replaced by the one in get_signing_key (injectable clock).
        super().__init__(uri, cache_keys=False, lifespan=lifespan, cooldown_duration=0)
        self.http = http or httpx.Client(timeout=httpx.Timeout(5.0), follow_redirects=False)
        self.refresh_cooldown_s = refresh_cooldown_s
        self.clock = clock
        self.fetches = 0
        self._last_refresh: float | None = None
        self._last_good: dict[str, Any] | None = None
        self._lock = threading.RLock()

    def fetch_data(self) -> dict[str, Any]:
        self.fetches += 1
        try:
            response = self.http.get(self.uri, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = self._as_jwk_set_payload(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWKClientError) as exc:
            if self._last_good is not None:
                logger.warning(
                    "JWKS fetch from %s failed (%s); using the last key set", self.uri, exc
                )
                return self._last_good
            raise jwt.PyJWKClientConnectionError(
                f"cannot fetch JWKS from {self.uri}: {exc}"
            ) from exc
        self._last_good = data
        return data

    def get_signing_keys(self, refresh: bool = False) -> list[jwt.PyJWK]:
        keys = [
            key
            for key in super().get_signing_keys(refresh)
            if key.algorithm_name in JWKS_ALGORITHMS
        ]
        if not keys:
            raise jwt.PyJWKClientError("the JWKS holds no ES256, RS256 or EdDSA signing key")
        return keys

    def get_signing_key(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            key = self.match_kid(self.get_signing_keys(), kid)
            if key is None and self._may_refresh():
                key = self.match_kid(self.get_signing_keys(refresh=True), kid)
            if key is None:
                raise jwt.PyJWKClientError(f"no signing key with kid {kid!r}")
            return key

    def _may_refresh(self) -> bool:
        now = self.clock()
        if self._last_refresh is not None and now - self._last_refresh < self.refresh_cooldown_s:
            return False
        self._last_refresh = now
        return True


class SupabaseTokenValidator:
    """Validates Supabase-style access tokens: HS256 secret and/or JWKS (ES256, RS256, EdDSA).

    ``http`` and ``clock`` are for the JWKS client (tests inject an ``httpx.MockTransport``
    client and a fake clock). Raises ``ImproperlyConfigured`` when no source is configured.
    """

    def __init__(
        self, *, http: httpx.Client | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.secret = hs256_secret()
        url = jwks_url()
        self.jwks = HttpxJWKClient(url, http=http, clock=clock) if url else None
        if self.secret is None and self.jwks is None:
            raise ImproperlyConfigured(NO_SOURCE_MESSAGE)
        self.audience = settings.JWT_AUDIENCE or None
        self.leeway = settings.JWT_LEEWAY_S

    def _key_for(self, header: dict[str, Any]) -> tuple[Any, str]:
        alg = header.get("alg")
        if alg == "HS256":
            if self.secret is None:
                raise InvalidToken("HS256 tokens are not accepted (no SUPABASE_JWT_SECRET)")
            return self.secret, alg
        if alg in JWKS_ALGORITHMS:
            if self.jwks is None:
                raise InvalidToken(f"{alg} tokens are not accepted (no JWKS configured)")
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise InvalidToken("the token header has no kid")
            try:
                jwk = self.jwks.get_signing_key(kid)
            except jwt.PyJWTError as exc:
                raise InvalidToken(str(exc)) from exc
            if jwk.algorithm_name != alg:
                raise InvalidToken(f"key {kid!r} is {jwk.algorithm_name}, the token says {alg}")
            return jwk.key, alg
        raise InvalidToken(f"unsupported algorithm {alg!r}")

    def validate(self, token: str) -> uuid.UUID:
        """The token's ``sub`` as a UUID; raises :class:`InvalidToken` for any defect."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from exc
        key, alg = self._key_for(header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
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
def _validator_for(path: str) -> TokenValidator:
    return import_string(path)()


def get_validator() -> TokenValidator:
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
        except InvalidToken as exc:
            logger.info("token rejected: %s", exc)
            raise exceptions.AuthenticationFailed("invalid or expired token") from None
        return CompanionUser(id=user_id), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="eros"'
