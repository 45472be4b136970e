"""Strict serializer fields: a value of the wrong JSON type is a 400, never coerced.

DRF's stock fields are lenient (``5`` becomes ``"5"``, ``"yes"`` becomes ``True``, an integer
becomes a UUID). eros's API says what each field is in its OpenAPI document and accepts
exactly that, so clients learn about mistakes instead of having them guessed away.
"""

from __future__ import annotations

import math
import re
import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
INTEGER_RE = re.compile(r"^-?[0-9]{1,18}$")


class StrictCharField(serializers.CharField):
    """A JSON string (numbers and booleans are refused)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false``."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictUUIDField(serializers.UUIDField):
    """A UUID in its canonical 36-character string form."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not UUID_RE.match(data):
            self.fail("invalid", value=data)
        return uuid.UUID(data)


class StrictFloatField(serializers.FloatField):
    """A finite JSON number (booleans, strings, NaN and infinities are refused)."""

    default_error_messages = {"invalid": "A finite number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if not math.isfinite(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter written as plain decimal digits (``"1.0"``, ``"1e3"`` refused)."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not INTEGER_RE.match(data.strip()):
            self.fail("invalid")
        return super().to_internal_value(data.strip())


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(serializers.JSONField):
    """A JSON object."""

    default_error_messages = {"invalid": "A JSON object is required."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        return super().to_internal_value(data)
