"""``/playground/``: a browser page to meet the personas, for development and demos.

On when ``DEBUG`` or ``EROS_PLAYGROUND=true``; otherwise the route answers 404 like an unknown
one. The page is a plain template plus one script (``eros/static/eros/playground.js``) that
talks to the public API with a bearer token, exactly as any client would. In development
(``EROS_ENV=development`` with an HS256 secret) the page carries a token for a playground
user (``?user=<uuid>`` picks another); elsewhere it asks for a token instead, so enabling the
playground never hands out tokens.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from eros.api import error_body
from eros.auth import DEV_USER_ID, mint_token

#: The user the development token is minted for when the page is opened without ``?user=``:
#: the development user of ``manage.py up``, ``chat`` and ``token``, so they share a history.
PLAYGROUND_USER = DEV_USER_ID
TOKEN_TTL_S = 24 * 3600


def playground_view(request: HttpRequest) -> HttpResponse:
    """The playground page, or a JSON 404 when the playground is off."""
    if not settings.EROS_PLAYGROUND:
        return JsonResponse(error_body("not_found", f"no route for {request.path}"), status=404)
    user_id, token = None, None
    if settings.EROS_ENV == "development":
        try:
            user_id = uuid.UUID(request.GET.get("user", "")) if request.GET.get("user") else None
        except ValueError:
            return JsonResponse(
                error_body("bad_request", "user must be a UUID", {"user": ["not a UUID"]}),
                status=400,
            )
        user_id = user_id or PLAYGROUND_USER
        try:
            token = mint_token(user_id, ttl_s=TOKEN_TTL_S)
        except ImproperlyConfigured:  # only JWKS configured: tokens come from the provider
            user_id = None
    response = render(
        request,
        "eros/playground.html",
        {"config": {"token": token, "user_id": str(user_id) if user_id else None}},
    )
    response["Cache-Control"] = "no-store"  # the page may carry a token
    return response
