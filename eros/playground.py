"""``/playground/``: a browser page to meet the personas, for development and demos.

On in development unless ``EROS_PLAYGROUND=false`` (always with ``DEBUG``), and then ``/``
redirects to it; otherwise, and always in production, the route answers 404 like an unknown
one and ``/`` is left alone. The page is a plain template plus one
script (``eros/static/eros/playground.js``) that talks to the public API with a bearer token,
exactly as any client would.

The page carries a token only for the development user (the one of ``manage.py up``, ``chat``
and ``token``), only in development with an HS256 secret, and only to a browser on this
machine: the client address and the ``Host`` it asked for must both be loopback (the second
keeps a DNS-rebinding page from reading the token). Opened as another user (``?user=<uuid>``)
or from elsewhere, it asks for a token instead, so the playground never mints a token for an
arbitrary user.
"""

from __future__ import annotations

import ipaddress
import uuid

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import split_domain_port
from django.shortcuts import redirect, render

from eros.api import error_body
from eros.auth import DEV_USER_ID, mint_token

#: The only user the page mints a token for: the development user of ``manage.py up``,
#: ``chat`` and ``token``, so they share a history.
PLAYGROUND_USER = DEV_USER_ID
TOKEN_TTL_S = 24 * 3600


def is_loopback(request: HttpRequest) -> bool:
    """True when the client address is loopback and the requested host names this machine."""
    if not _is_loopback_address(request.META.get("REMOTE_ADDR", "")):
        return False
    domain, _port = split_domain_port(request.get_host())
    return domain == "localhost" or domain.endswith(".localhost") or _is_loopback_address(domain)


def _is_loopback_address(value: str) -> bool:
    try:
        return ipaddress.ip_address(value.strip("[]")).is_loopback
    except ValueError:
        return False


def playground_on() -> bool:
    """Whether the playground is served: enabled, and never outside development."""
    return bool(settings.EROS_PLAYGROUND) and settings.EROS_ENV == "development"


def root_view(request: HttpRequest) -> HttpResponse:
    """``/``: a 302 to ``/playground/`` while the playground is on, else a JSON 404."""
    if not playground_on():
        return JsonResponse(error_body("not_found", f"no route for {request.path}"), status=404)
    return redirect("playground")


def playground_view(request: HttpRequest) -> HttpResponse:
    """The playground page, or a JSON 404 when the playground is off (always in production).

    ``?user=`` must be a UUID (400 otherwise); any user but :data:`PLAYGROUND_USER` gets the
    page without a token.
    """
    if not playground_on():
        return JsonResponse(error_body("not_found", f"no route for {request.path}"), status=404)
    requested = request.GET.get("user")
    try:
        requested_id = uuid.UUID(requested) if requested else PLAYGROUND_USER
    except ValueError:
        return JsonResponse(
            error_body("bad_request", "user must be a UUID", {"user": ["not a UUID"]}),
            status=400,
        )
    user_id, token = None, None
    if requested_id == PLAYGROUND_USER and is_loopback(request):
        try:
            token = mint_token(PLAYGROUND_USER, ttl_s=TOKEN_TTL_S)
            user_id = PLAYGROUND_USER
        except ImproperlyConfigured:  # only JWKS configured: tokens come from the provider
            pass
    response = render(
        request,
        "eros/playground.html",
        {"config": {"token": token, "user_id": str(user_id) if user_id else None}},
    )
    response["Cache-Control"] = "no-store"  # the page may carry a token
    return response
