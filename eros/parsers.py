"""The API's JSON parser: DRF's, with bounds that a hostile body cannot get past.

A request body is refused in the one error shape (DESIGN §4) when it

- nests arrays and objects deeper than ``JSON_MAX_DEPTH`` (default 32): Python's decoder
  recurses once per level, so two kilobytes of brackets used to exhaust the stack (a 500);
  400 ``bad_request``;
- holds a lone UTF-16 surrogate (``"\\ud800"`` without its pair) in a key or a string:
  PostgreSQL text and JSONB cannot store one, and RFC 7493 §2.1 forbids them; 400
  ``validation_error`` naming where;
- holds a number outside the IEEE 754 double range (``1e400``, or an integer of 10^400):
  float fields overflow on it, clients cannot read it back, and RFC 7493 §2.2 asks for
  doubles; 400 ``validation_error`` naming where.

The checks themselves live in :mod:`eros.jsonsafe`.
"""

from __future__ import annotations

import codecs
import math

from django.conf import settings
from rest_framework import exceptions, parsers
from rest_framework.utils import json as drf_json

from eros.jsonsafe import DOUBLE_DIGITS, SURROGATE_ESCAPE, nesting_exceeds, unstorable_value


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser (no ``NaN``/``Infinity``) plus the bounds above.

    Raises ``ParseError`` (400 ``bad_request``) for malformed or too deeply nested JSON and
    ``ValidationError`` (400 ``validation_error``, ``details`` keyed by the path) for lone
    surrogates and out-of-range numbers.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.JSON_MAX_DEPTH
        try:
            text = codecs.getreader(encoding)(stream).read()
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if nesting_exceeds(text, limit):
            raise exceptions.ParseError(f"JSON nested more than {limit} levels deep")
        suspicious = SURROGATE_ESCAPE.search(text) is not None

        def parse_float(literal: str) -> float:
            nonlocal suspicious
            number = float(literal)
            suspicious = suspicious or not math.isfinite(number)
            return number

        def parse_int(literal: str) -> int:
            nonlocal suspicious
            suspicious = suspicious or len(literal.lstrip("-")) >= DOUBLE_DIGITS
            return int(literal)

        try:
            data = drf_json.loads(
                text,
                parse_constant=drf_json.strict_constant if self.strict else None,
                parse_float=parse_float,
                parse_int=parse_int,
            )
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if suspicious:
            found = unstorable_value(data)
            if found:
                path, reason = found
                raise exceptions.ValidationError({path or "non_field_errors": [reason]})
        return data
