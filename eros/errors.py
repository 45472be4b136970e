"""Plain application errors: what services, selectors and workers raise when they cannot act.

They know nothing of HTTP. The one DRF exception handler (:func:`eros.api.exception_handler`)
maps each class to a status and renders ``{"error": code, "message": message, "details"?:
details}``; a worker catches them as ordinary exceptions. Each class's docstring names the
status it answers with; :data:`eros.api.APP_ERROR_STATUSES` is the table itself.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """Base of every application error: a request eros understood but cannot act on.

    ``code`` is the machine-readable error code (the ``error`` field of the body); each class
    has a default and a caller may pass a narrower one. ``message`` is one human-readable
    sentence, ``details`` an optional JSON-ready dict (per-field messages, for instance).
    Raised as such it maps to 400 ``bad_request``.
    """

    default_code: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = "the request cannot be carried out"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ):
        self.code = code or self.default_code
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)


class Validation(AppError):
    """Input that is well-formed but not acceptable: 400 ``validation_error``.

    ``details`` maps field names to lists of messages. A rule kept from the reference contract
    may keep its ``bad_request`` code with ``code="bad_request"`` (still 400).
    """

    default_code = "validation_error"
    default_message = "invalid input"


class NotFound(AppError):
    """The named resource does not exist (or is not visible as such): 404 ``not_found``."""

    default_code = "not_found"
    default_message = "not found"


class Forbidden(AppError):
    """The resource exists but belongs to another user: 403 ``forbidden``."""

    default_code = "forbidden"
    default_message = "forbidden"


class Conflict(AppError):
    """The resource is in a state that does not allow the operation: 409 ``conflict``."""

    default_code = "conflict"
    default_message = "the resource is in a conflicting state"


class PayloadTooLarge(AppError):
    """The request body, or a text in it, is over its limit: 413 ``payload_too_large``."""

    default_code = "payload_too_large"
    default_message = "the request is too large"


class Upstream(AppError):
    """A model provider (chat or embeddings) failed after retries and fallback: 502
    ``upstream_error``. Retrying the same request later may succeed."""

    default_code = "upstream_error"
    default_message = "the model provider failed; please retry"
