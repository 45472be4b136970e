"""Text helpers shared by every provider: reply cleaning and pgvector's vector literal.

Both follow the reference engine bit for bit (reference eros-engine-core.md §0, §2.2, §2.3),
because stored replies and vector literals must not change when a deployment moves between
the reference and eros.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

# Rust's str::trim() strips exactly the Unicode White_Space characters. Python's str.strip()
# also strips U+001C..U+001F (information separators), so a bare .strip() would disagree with
# the reference on text containing them (reference eros-engine-core.md §0, "Whitespace trim").
RUST_WHITESPACE = (
    "\t\n\x0b\x0c\r"  # U+0009..U+000D
    " "  # U+0020
    "\x85\xa0\u1680"
    + "".join(chr(cp) for cp in range(0x2000, 0x200B))  # U+2000..U+200A
    + "\u2028\u2029\u202f\u205f\u3000"
)

_FENCE = "```"


def rust_trim(text: str) -> str:
    """Strip leading and trailing whitespace exactly as Rust's ``str::trim()`` does.

    Only the Unicode ``White_Space`` set is removed (reference eros-engine-core.md §0);
    U+001C..U+001F are kept, unlike ``str.strip()``.
    """
    return text.strip(RUST_WHITESPACE)


def clean_response(raw: str) -> str:
    """Remove a leading code fence, surrounding ASCII quotes and corner brackets from a reply.

    Steps, in order (reference eros-engine-core.md §2.2): trim; if the text starts with a
    fence, drop the first line (the language tag) when there is a newline and cut at the last
    closing fence, trimming the result; trim again and strip every leading/trailing ``"``;
    then strip every leading/trailing ``「``/``」``. A fence later in the text is kept, curly
    quotes are kept, and there is no trim after the quote strip. Never raises.
    """
    s = rust_trim(raw)
    if s.startswith(_FENCE):
        rest = s[len(_FENCE) :]
        newline = rest.find("\n")
        body = rest[newline + 1 :] if newline >= 0 else rest
        closing = body.rfind(_FENCE)
        s = rust_trim(body[:closing]) if closing >= 0 else rust_trim(body)
    s = rust_trim(s).strip('"')
    return s.strip("「」")


def format_vector(values: Iterable[float]) -> str:
    """Render floats as pgvector's text literal, e.g. ``[0.100000,0.200000,-0.300000]``.

    Each value is first rounded to float32 (the reference stores ``Vec<f32>``), then printed
    with exactly six decimals (round half to even on the binary value, ``-0.000000`` for a
    negative zero); an empty input gives ``"[]"`` (reference eros-engine-core.md §2.3).
    Raises ``ValueError`` for NaN, infinities and values outside float32 range, which pgvector
    would reject anyway.
    """
    floats = [float(v) for v in values]
    if not floats:
        return "[]"
    if not all(math.isfinite(v) for v in floats):
        raise ValueError("pgvector cannot store NaN or infinite values")
    count = len(floats)
    try:
        rounded = struct.unpack(f"<{count}f", struct.pack(f"<{count}f", *floats))
    except OverflowError as exc:
        raise ValueError("vector value outside float32 range") from exc
    return "[" + ",".join(format(v, ".6f") for v in rounded) + "]"
