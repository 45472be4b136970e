"""Splitting a reply into the word chunks a streamed reply is made of."""

from __future__ import annotations

import re

# A chunk is a word with the whitespace before it ("Hello", " there,", " friend."), as
# OpenAI-style streams send tokens; trailing whitespace forms a last chunk of its own.
_WORD_CHUNK = re.compile(r"\s*\S+|\s+\Z")


def word_chunks(text: str) -> list[str]:
    """``text`` cut into word chunks whose concatenation is exactly ``text``.

    ``"Hi there!"`` → ``["Hi", " there!"]``; ``""`` → ``[]``; whitespace-only text is one chunk.
    """
    return _WORD_CHUNK.findall(text)
