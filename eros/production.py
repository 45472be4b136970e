"""What ``EROS_ENV=production`` refuses, and what it warns about.

Settings call :func:`production_refusal` while they are imported, so every process (web,
worker, any command) refuses to start with a setting that is unsafe on a public host, naming
the setting in one line. :func:`production_warnings` lists what production allows but an
operator should know (the offline providers); ``/healthz``, the start-up log, ``manage.py up``
and ``manage.py check --deploy`` report it.
"""

from __future__ import annotations

# Django's own rule for a strong SECRET_KEY (``check --deploy``, security.W009).
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)

ENVIRONMENTS = ("development", "production")
#: RFC 7518 §3.2: an HS256 key must have at least 256 bits; shorter secrets can be brute-forced
#: offline from one token.
JWT_SECRET_MIN_LENGTH = 32
#: Host names that are always allowed in production, so that the health probes of
#: ``manage.py up`` and of the container, which connect over loopback, are answered.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def production_refusal(
    *,
    debug: bool,
    secret_key: str,
    allowed_hosts: list[str],
    jwt_secret: str,
    playground: bool,
) -> str | None:
    """The first production setting that is unsafe, as one line naming it; None when all are safe.

    Refused: ``DEBUG=true`` (debug pages show settings and source), a ``DJANGO_SECRET_KEY``
    weaker than Django's rule (at least 50 characters, 5 distinct, not ``django-insecure-``), a
    missing or wildcard ``ALLOWED_HOSTS``, an HS256 ``SUPABASE_JWT_SECRET`` shorter than 32
    characters, and ``EROS_PLAYGROUND=true`` (the playground is a development tool).
    """
    if debug:
        return "DEBUG=true is refused with EROS_ENV=production: debug pages show settings and code"
    if (
        len(secret_key) < SECRET_KEY_MIN_LENGTH
        or len(set(secret_key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
        or secret_key.startswith(SECRET_KEY_INSECURE_PREFIX)
    ):
        return (
            f"DJANGO_SECRET_KEY is too weak for EROS_ENV=production: use at least "
            f"{SECRET_KEY_MIN_LENGTH} random characters (python -c 'import secrets; "
            f"print(secrets.token_urlsafe(50))')"
        )
    if not allowed_hosts:
        return (
            "ALLOWED_HOSTS is required with EROS_ENV=production: the comma-separated host "
            "names eros answers to (eros.example.com)"
        )
    if "*" in allowed_hosts:
        return (
            "ALLOWED_HOSTS=* is refused with EROS_ENV=production: name the hosts eros answers "
            "to (eros.example.com)"
        )
    if jwt_secret and len(jwt_secret) < JWT_SECRET_MIN_LENGTH:
        return (
            f"SUPABASE_JWT_SECRET is too short for EROS_ENV=production: HS256 needs at least "
            f"{JWT_SECRET_MIN_LENGTH} characters"
        )
    if playground:
        return (
            "EROS_PLAYGROUND=true is refused with EROS_ENV=production: the playground is for "
            "development"
        )
    return None


def proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """``SECURE_PROXY_SSL_HEADER`` from a header name: ``X-Forwarded-Proto`` →
    ``("HTTP_X_FORWARDED_PROTO", "https")``; empty → None (eros terminates TLS itself, or
    runs without it)."""
    name = name.strip()
    if not name:
        return None
    return "HTTP_" + name.upper().replace("-", "_"), "https"


def production_warnings() -> list[str]:
    """What a production deployment should hear about, one sentence each; empty elsewhere.

    Today: the offline chat model or the local embedder in production (replies composed
    without a language model, memories recalled by shared words only).
    """
    from django.conf import settings

    from eros.llm.providers import chat_provider_name, embeddings_provider_name

    if settings.EROS_ENV != "production":
        return []
    warnings = []
    if chat_provider_name() == "offline":
        warnings.append(
            "production is running on the offline chat provider: replies are composed "
            "without a language model (set OPENROUTER_API_KEY or LLM_BASE_URL)"
        )
    if embeddings_provider_name() == "local":
        warnings.append(
            "production is running on the local embedder: memories are recalled by shared "
            "words only (set VOYAGE_API_KEY or EMBEDDINGS_BASE_URL)"
        )
    return warnings
