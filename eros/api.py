"""The one error shape of the API: ``{"error": code, "message": text, "details"?: {...}}``.

Every error a client can see goes through here (DESIGN §4): DRF's own exceptions, eros's plain
application errors (:mod:`eros.errors`, raised by views, services and selectors alike), Django's
404/500 handlers, and any unexpected exception, which becomes a 500 ``internal`` without a stack
trace or SQL.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from eros.errors import (
    AppError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Upstream,
    Validation,
)

logger = logging.getLogger(__name__)

#: HTTP status -> error code (DESIGN §4).
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    502: "upstream_error",
    503: "service_unavailable",
}

#: Application error class -> HTTP status; the most specific class in an error's MRO wins.
APP_ERROR_STATUSES: dict[type[AppError], int] = {
    AppError: 400,
    Validation: 400,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    PayloadTooLarge: 413,
    Upstream: 502,
}

#: Seconds a client is asked to wait after a 503 before it retries.
RETRY_AFTER_S = 1


def app_error_status(exc: AppError) -> int:
    """The HTTP status of an application error: that of the nearest mapped class in its MRO."""
    return next(APP_ERROR_STATUSES[cls] for cls in type(exc).__mro__ if cls in APP_ERROR_STATUSES)


def database_unavailable(exc: Exception) -> Response:
    """503 ``service_unavailable`` with ``Retry-After`` for a database that is out of reach.

    Covers every connection pool slot being busy past ``DB_POOL_TIMEOUT_S``, a server that is
    restarting or unreachable, and a connection lost mid-request: all of them pass, so the
    client is told to retry rather than shown a 500.
    """
    logger.warning("database unavailable: %s", exc)
    body = error_body("service_unavailable", "the database is busy or unavailable; please retry")
    return Response(body, status=503, headers={"Retry-After": str(RETRY_AFTER_S)})


def forbid_other_user(
    *, path_user_id: uuid.UUID, caller_id: uuid.UUID, message: str = "not your data"
) -> None:
    """Raise :class:`~eros.errors.Forbidden` (403) when a path names another user than the
    token's ``sub``; ``message`` is the body's text."""
    if path_user_id != caller_id:
        raise Forbidden(message)


def error_body(code: str, message: str, details: Any = None) -> dict:
    body = {"error": code, "message": message}
    if details:
        body["details"] = details
    return body


def _flatten_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _flatten_message(value)
            return inner if key == "non_field_errors" else f"{key}: {inner}"
        return "invalid input"
    if isinstance(detail, list):
        return _flatten_message(detail[0]) if detail else "invalid input"
    return str(detail)


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF exception handler producing the one error shape for every exception."""
    headers: dict[str, str] = {}
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "forbidden")
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge("the request body is too large")
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError("the request was rejected as malformed")

    if isinstance(exc, AppError):
        body = error_body(exc.code, exc.message, exc.details)
        return Response(body, status=app_error_status(exc))

    if isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable(exc)

    if isinstance(exc, exceptions.ValidationError):
        body = error_body("validation_error", _flatten_message(exc.detail), _as_details(exc.detail))
        return Response(body, status=status.HTTP_400_BAD_REQUEST)

    if isinstance(exc, exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            code = "unauthorized"
            exc.status_code = status.HTTP_401_UNAUTHORIZED
        else:
            code = CODES.get(
                exc.status_code, "bad_request" if exc.status_code < 500 else "internal"
            )
        message = _flatten_message(exc.detail)
        return Response(error_body(code, message), status=exc.status_code, headers=headers)

    logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return Response(error_body("internal", "internal server error"), status=500)


def _as_details(detail: Any) -> dict | None:
    if isinstance(detail, dict):
        return {key: _plain(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": _plain(detail)}
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def json_not_found(request, exception=None) -> JsonResponse:
    """Django ``handler404``: unknown routes answer in the error shape too."""
    return JsonResponse(error_body("not_found", f"no route for {request.path}"), status=404)


def json_server_error(request) -> JsonResponse:
    """Django ``handler500``: never a stack trace or SQL."""
    return JsonResponse(error_body("internal", "internal server error"), status=500)


def json_bad_request(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "bad request"), status=400)


def json_forbidden(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("forbidden", "forbidden"), status=403)
