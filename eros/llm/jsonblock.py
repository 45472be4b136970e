"""Lenient extraction of a JSON object from model output.

Models wrap JSON in prose or code fences. :func:`parse_json_object` tries the whole text, then
the first balanced ``{…}`` block (brace matching that ignores braces inside JSON strings and
honours backslash escapes), as the reference does (eros-engine-server.md §6.11).
"""

from __future__ import annotations

import json
from typing import Any

from eros.jsonsafe import storable


def find_json_block(text: str) -> str | None:
    """The first balanced ``{…}`` substring of ``text``, or None."""
    start = text.find("{")
    while start != -1:
        depth = 0
        in_string = False
        escaped = False
        for i in range(start, len(text)):
            ch = text[i]
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[start : i + 1]
        start = text.find("{", start + 1)
    return None


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The JSON object in ``text`` (whole text first, then the first balanced block), or None.

    The object is :func:`~eros.jsonsafe.storable` (NUL characters and lone surrogates become
    U+FFFD); JSON nested too deeply to decode counts as no object.
    """
    try:
        value = json.loads(text)
        if isinstance(value, dict):
            return storable(value)
    except (ValueError, TypeError, RecursionError):
        pass
    block = find_json_block(text or "")
    if block is None:
        return None
    try:
        value = json.loads(block)
    except (ValueError, RecursionError):
        return None
    return storable(value) if isinstance(value, dict) else None
