"""JSON that eros can store and send back: bounds and repairs shared by every JSON input.

PostgreSQL text and JSONB cannot hold NUL characters or lone UTF-16 surrogates, Python's JSON
decoder recurses once per nesting level, and numbers past the double range overflow float
fields and cannot be read back by most clients (RFC 7493). Client input is refused when it
breaks these rules (:mod:`eros.parsers`, the admin's JSON fields); model provider output is
repaired instead (:func:`storable`), since there is no one to refuse it to.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

#: A JSON string literal (escapes included) or one bracket; strings are matched whole so that
#: brackets inside them are not counted.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{]|[\]}]', re.DOTALL)
#: An escape that decodes to a UTF-16 surrogate; without one, no decoded string can hold one
#: (the UTF-8 decoder already refuses encoded surrogates).
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNSTORABLE_CHAR = re.compile("[\x00\ud800-\udfff]")
#: Integer literals longer than this may exceed the double range and are checked exactly.
DOUBLE_DIGITS = len(str(int(sys.float_info.max)))
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


def storable(value: Any) -> Any:
    """``value`` (decoded JSON) with NUL characters and lone surrogates in keys and strings
    replaced by U+FFFD, so that it can be stored as text or JSONB and encoded as UTF-8."""
    if isinstance(value, str):
        return _UNSTORABLE_CHAR.sub("\ufffd", value)
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    return value
