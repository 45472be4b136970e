"""Strict serializer fields: a value of the wrong JSON type is a 400, never coerced.

DRF's stock fields are lenient (``5`` becomes ``"5"``, ``"yes"`` becomes ``True``, an integer
becomes a UUID). eros's API says what each field is in its OpenAPI document and accepts
exactly that, so clients learn about mistakes instead of having them guessed away.
"""

from __future__ import annotations

import json
import math
import re
import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

#: Whitespace as ECMA-262 (and so JSON Schema ``pattern``) defines ``\\s``, spelled out so that
#: the blank check here and the patterns in the OpenAPI document agree character for character.
WHITESPACE = "\t\n\u000b\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
#: No NUL anywhere (PostgreSQL text cannot hold it).
NO_NUL_PATTERN = r"^[^\u0000]*$"
#: No NUL, and at least one character that is not whitespace.
NOT_BLANK_PATTERN = rf"^[^\u0000]*[^\u0000{WHITESPACE}][^\u0000]*$"
_BLANK_RE = re.compile(f"[{WHITESPACE}]*")

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
INTEGER_RE = re.compile(r"^-?[0-9]+$")


def is_blank(text: str) -> bool:
    """True when ``text`` is empty or only whitespace (in the sense of :data:`WHITESPACE`)."""
    return _BLANK_RE.fullmatch(text) is not None


def json_size_bytes(value) -> int:
    """Bytes of ``value`` (decoded JSON) written as compact UTF-8 JSON."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def without_nul(value):
    """``value`` (any JSON) with NUL characters in keys and strings replaced by U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


class StrictCharField(serializers.CharField):
    """A JSON string (numbers and booleans are refused); NUL characters are refused too
    (DRF's own rule), which the OpenAPI document states as a ``pattern``.

    ``max_length`` counts the string as sent, in code points as JSON Schema's ``maxLength``
    does: DRF checks it after trimming, so ``"\\r"`` plus ``max_length`` characters would pass
    its check while breaking the documented limit."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
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
        try:
            number = float(data)
        except OverflowError:  # an integer beyond the double range, such as 10**400
            self.fail("invalid")
        if not math.isfinite(number):
            self.fail("invalid")
        return super().to_internal_value(number)


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter written as plain decimal digits (``"1.0"``, ``"1e3"`` and an
    empty ``?limit=`` are refused; leave the parameter out for the default)."""

    def get_value(self, dictionary):
        # DRF reads an empty value of an optional form field as "absent"; here it is an error.
        if self.field_name in dictionary:
            return dictionary[self.field_name]
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not INTEGER_RE.match(data.strip()):
            self.fail("invalid")
        return super().to_internal_value(data.strip())


@extend_schema_field(OpenApiTypes.OBJECT)
class JSONObjectField(serializers.JSONField):
    """A JSON object, stored as given except that NUL characters (which PostgreSQL JSONB cannot
    hold) become U+FFFD."""

    default_error_messages = {"invalid": "A JSON object is required."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("invalid")
        return without_nul(super().to_internal_value(data))


class QueryChoiceField(serializers.ChoiceField):
    """A query parameter from a fixed set; an empty ``?name=`` is an error, not "absent"."""

    def get_value(self, dictionary):
        if self.field_name in dictionary:
            return dictionary[self.field_name]
        return super().get_value(dictionary)


class QueryUUIDField(StrictUUIDField):
    """A UUID query parameter; an empty ``?name=`` is an error, not "absent"."""

    def get_value(self, dictionary):
        if self.field_name in dictionary:
            return dictionary[self.field_name]
        return super().get_value(dictionary)


class QueryBooleanField(serializers.BooleanField):
    """A boolean query parameter spelled ``true`` or ``false`` (lower case). DRF's own field
    also takes ``1``, ``yes``, ``on``, ``True`` …; a client that sends one of those has
    guessed, and is told instead. An empty ``?name=`` is an error, not "absent"."""

    default_error_messages = {"invalid": "Must be `true` or `false`."}
    # DRF reads an absent boolean of a form as False; absent here means "use the default".
    default_empty_html = empty
    _VALUES = {"true": True, "false": False}

    def get_value(self, dictionary):
        if self.field_name in dictionary:
            return dictionary[self.field_name]
        return super().get_value(dictionary)

    def to_internal_value(self, data):
        if not isinstance(data, str) or data not in self._VALUES:
            self.fail("invalid")
        return self._VALUES[data]


class QueryCharField(StrictCharField):
    """A text query parameter; an empty ``?name=`` is refused (leave it out instead)."""

    def get_value(self, dictionary):
        if self.field_name in dictionary:
            return dictionary[self.field_name]
        return super().get_value(dictionary)
