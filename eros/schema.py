"""OpenAPI pieces shared by every app: the bearer scheme, the error body and its responses.

:func:`add_error_responses` (a drf-spectacular post-processing hook) documents the errors that
every operation can answer whatever its view says: 401 and 429 (rate limited, with
``Retry-After``) on authenticated operations, 400 and 415 on operations with a body or query
parameters, 404 on operations with path parameters (unknown ids, and path segments that are
not UUIDs, answer 404). Views declare the rest (403, 409, 413, 502 …) with
:func:`error_responses`.
"""

from __future__ import annotations

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import get_class
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from eros.api import CODES
from eros.fields import NO_NUL_PATTERN, NOT_BLANK_PATTERN

ERROR_DESCRIPTIONS = {
    400: "Invalid input: `validation_error` (with `details` per field) or `bad_request`.",
    401: "Missing, malformed, expired or otherwise invalid bearer token.",
    403: "The resource belongs to another user.",
    404: "Unknown resource or route.",
    409: "The resource is in a state that does not allow this operation.",
    413: "The request body, or the message or gift metadata in it, is too large.",
    415: "The request body is not `application/json`.",
    429: "Too many requests from this user (`API_RATE_LIMIT`) or this client address "
    "(`API_RATE_LIMIT_IP`); `Retry-After` gives the seconds to wait.",
    502: "The model provider failed after retries and fallback; the user message is kept.",
    503: "The database is busy or unreachable (`service_unavailable`); retry after `Retry-After` "
    "seconds.",
}


RETRY_AFTER_HEADER = {
    "description": "Seconds until the next request will be accepted (at least 1).",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


class JWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "eros.auth.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT whose `sub` is the user's UUID (HS256 or JWKS-signed).",
        }


class SchemaExtraExtension(OpenApiSerializerExtension):
    """Adds a serializer's ``openapi_extra`` to its component: object-level rules a field list
    cannot say, such as ``anyOf`` required alternatives or ``additionalProperties: false``."""

    target_class = "rest_framework.serializers.Serializer"
    match_subclasses = True

    @classmethod
    def _matches(cls, target) -> bool:
        return super()._matches(target) and hasattr(get_class(target), "openapi_extra")

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, **get_class(self.target).openapi_extra}


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):
    """Strict strings refuse NUL characters, and (unless blank is allowed) strings that are
    only whitespace, which DRF trims to blank; say so with a ``pattern`` (unless one is set)."""

    target_class = "eros.fields.StrictCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if "pattern" not in schema and "oneOf" not in schema:
            field = self.target
            blank_refused = not field.allow_blank and field.trim_whitespace
            schema["pattern"] = NOT_BLANK_PATTERN if blank_refused else NO_NUL_PATTERN
        return schema


class ErrorSerializer(serializers.Serializer):
    """The one error body: ``{"error", "message", "details"?}``."""

    error = serializers.ChoiceField(choices=sorted(set(CODES.values()) | {"internal"}))
    message = serializers.CharField()
    details = serializers.DictField(required=False)


class AutoSchema(SpectacularAutoSchema):
    """Names the components of nested ``InputSerializer``/``OutputSerializer`` classes after
    their view (``ChatStartApi.OutputSerializer`` → ``ChatStartOutput``), so every view can use
    the same inner names without clashing."""

    def get_serializer_name(self, serializer, direction):
        name = super().get_serializer_name(serializer, direction)
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer and inner.endswith("Serializer"):
            return outer.rsplit(".", 1)[-1].removesuffix("Api") + name
        return name


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """``responses=`` entries for ``codes``, each with the error body and a description."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS.get(code, ""))
        for code in codes
    }


def add_error_responses(result, generator, request, public):
    """Post-processing hook: add the generic error responses to every operation."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Error",
        {
            "type": "object",
            "properties": {
                "error": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": {}},
            },
            "required": ["error", "message"],
        },
    )
    for path, methods in result.get("paths", {}).items():
        # The OpenAI-compatible routes answer errors in OpenAI's shape (companions.openai_apis).
        path_error_ref = (
            {"$ref": "#/components/schemas/OpenAIError"}
            if path.startswith("/v1/") and "OpenAIError" in schemas
            else error_ref
        )
        for operation in methods.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            wanted: set[int] = set()
            if operation.get("security") != [] and any(
                "bearerAuth" in s for s in operation.get("security", [])
            ):
                wanted |= {401, 429, 503}  # and every authenticated operation reads the database
            params = operation.get("parameters", [])
            if "requestBody" in operation:
                # Every body of this API is required, even when all its fields are optional
                # one by one (``message`` or ``content``, ``genome_id`` or ``instance_id``).
                operation["requestBody"]["required"] = True
                wanted |= {400, 415}
            if any(p.get("in") == "query" for p in params):
                wanted.add(400)
            if "{" in path:
                wanted.add(404)
            for code in sorted(wanted):
                response = operation["responses"].setdefault(
                    str(code),
                    {
                        "description": ERROR_DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": path_error_ref}},
                    },
                )
                if code == 429:
                    response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER_HEADER
    return result
