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

:func:`nesting_exceeds` and :func:`unstorable_value` are the same checks for other JSON
inputs (the admin's JSON fields).
"""

from __future__ import annotations

import codecs
import math
import re
import sys
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers
from rest_framework.utils import json as drf_json

#: A JSON string literal (escapes included) or one bracket; strings are matched whole so that
#: brackets inside them are not counted.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]|[\]}]', re.DOTALL)
#: An escape that decodes to a UTF-16 surrogate; without one, no decoded string can hold one
#: (the UTF-8 decoder already refuses encoded surrogates).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
#: Integer literals longer than this may exceed the double range and are checked exactly.
_DOUBLE_DIGITS = len(str(int(sys.float_info.max)))
_OUT_OF_RANGE = "numbers must be finite and within the double range (about ±1.8e308)"


def nesting_exceeds(text: str, limit: int) -> bool:
    """True when the JSON ``text`` nests arrays/objects more than ``limit`` levels deep.

    Linear in ``len(text)``; brackets inside string literals do not count. Text that is not
    JSON may be misjudged, which is harmless: the decoder refuses it either way.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def unstorable_value(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first place in decoded JSON ``value`` that eros cannot store or send back.

    Returns ``(path, reason)`` (path like ``metadata.items[2]``; ``""`` for the top level)
    for a key or string holding a lone surrogate, or a number that is not finite or exceeds
    the double range; ``None`` when every part is fine. Recursive: bound the depth first.
    """
    if isinstance(value, str):
        if _SURROGATE.search(value):
            return path, "text must be valid Unicode (it holds a lone surrogate)"
    elif isinstance(value, bool):
        pass
    elif isinstance(value, float):
        if not math.isfinite(value):
            return path, _OUT_OF_RANGE
    elif isinstance(value, int):
        if abs(value) > sys.float_info.max:
            return path, _OUT_OF_RANGE
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _SURROGATE.search(key):
                return _printable(where), "keys must be valid Unicode (one holds a lone surrogate)"
            found = unstorable_value(item, where)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_value(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _printable(path: str) -> str:
    # The path is echoed in the error body, which must itself be encodable.
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser (no ``NaN``/``Infinity``) plus the bounds of this module.

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
        suspicious = _SURROGATE_ESCAPE.search(text) is not None

        def parse_float(literal: str) -> float:
            nonlocal suspicious
            number = float(literal)
            suspicious = suspicious or not math.isfinite(number)
            return number

        def parse_int(literal: str) -> int:
            nonlocal suspicious
            suspicious = suspicious or len(literal.lstrip("-")) >= _DOUBLE_DIGITS
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
