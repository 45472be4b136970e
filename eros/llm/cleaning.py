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
    # One sum instead of a test per value (this runs for every recall's query vector): the sum
    # of finite values is finite unless they are huge, and then the pack below refuses them.
    if not math.isfinite(sum(floats)) and not all(math.isfinite(v) for v in floats):
        raise ValueError("pgvector cannot store NaN or infinite values")
    count = len(floats)
    try:
        rounded = struct.unpack(f"<{count}f", struct.pack(f"<{count}f", *floats))
    except OverflowError as exc:
        raise ValueError("vector value outside float32 range") from exc
    return "[" + ",".join(map(_SIX_DECIMALS, rounded)) + "]"


_SIX_DECIMALS = "{:.6f}".format


_WHITESPACE_SET = frozenset(RUST_WHITESPACE)
# Characters clean_response may strip from the end of a reply: whitespace, ASCII quotes and
# corner brackets. A streamed run of them is held back until a later character shows that
# it is inside the reply rather than at its end.
_TRAILING_STRIPPABLE = _WHITESPACE_SET | {'"', "「", "」"}


class StreamCleaner:
    """:func:`clean_response` for a reply that arrives in chunks.

    ``feed(chunk)`` returns the text that can be shown now; ``finish()`` returns the rest.
    Their concatenation is exactly ``clean_response(whole text)``. Leading whitespace, quotes
    and corner brackets are dropped as they arrive; a trailing run of such characters is held
    back until the reply goes on or ends. A reply that starts with a code fence is held back
    whole (the fence rule cuts at the *last* closing fence) and released by ``finish()``.
    """

    def __init__(self) -> None:
        self._head = ""  # text seen before deciding whether the reply opens with a fence
        self._decided = False
        self._fenced: list[str] | None = None
        self._lead = 0  # 0: leading whitespace, 1: leading quotes, 2: leading brackets, 3: body
        self._held = ""

    def feed(self, chunk: str) -> str:
        """Text of ``chunk`` (and of earlier held-back text) that is final now; may be ``""``."""
        if self._fenced is not None:
            self._fenced.append(chunk)
            return ""
        if not self._decided:
            self._head += chunk
            start = self._head.lstrip(RUST_WHITESPACE)
            if len(start) < len(_FENCE) and _FENCE.startswith(start):
                return ""  # could still become a fence
            self._decided = True
            chunk, self._head = self._head, ""
            if start.startswith(_FENCE):
                self._fenced = [chunk]
                return ""
        return self._body(chunk)

    def finish(self) -> str:
        """The held-back remainder, cleaned; call once after the last chunk."""
        if self._fenced is not None:
            text, self._fenced = "".join(self._fenced), []
            return clean_response(text)
        if not self._decided:
            self._decided = True
            return clean_response(self._head)
        held, self._held = self._held, ""
        return held.rstrip(RUST_WHITESPACE).rstrip('"').rstrip("「」")

    def _body(self, chunk: str) -> str:
        out: list[str] = []
        for ch in chunk:
            if self._lead == 0:
                if ch in _WHITESPACE_SET:
                    continue
                self._lead = 1
            if self._lead == 1:
                if ch == '"':
                    continue
                self._lead = 2
            if self._lead == 2:
                if ch in "「」":
                    continue
                self._lead = 3
            if ch in _TRAILING_STRIPPABLE:
                self._held += ch
            else:
                out.append(self._held)
                out.append(ch)
                self._held = ""
        return "".join(out)
