"""clean_response and format_vector against the reference vectors (eros-engine-core.md §5.4,
§5.5, §5.7)."""

from __future__ import annotations

import math
import random

import pytest

from eros.llm.cleaning import StreamCleaner, clean_response, format_vector, rust_trim

REFERENCE_VECTORS = [
    ("O1", "```text\n你好呀\n```", "你好呀"),
    ("O2", "```\n哈哈\n```", "哈哈"),
    ("O3a", '"hi there"', "hi there"),
    ("O3b", "「你好」", "你好"),
    ("O4", "hello", "hello"),
    ("X18", '```json\n{"a":1}', '{"a":1}'),
    ("X19", "```hello```", "hello"),
    ("X20a", '""quoted""', "quoted"),
    ("X20b", '「"hi"」', '"hi"'),
    ("X20c", '" hi "', " hi "),
    ("X21", "```a\nb```c```", "b```c"),
    ("X22", "Here:\n```\nx\n```", "Here:\n```\nx\n```"),
]


@pytest.mark.parametrize(("vector", "raw", "expected"), REFERENCE_VECTORS)
def test_clean_response_matches_reference_vector(vector, raw, expected):
    assert clean_response(raw) == expected, vector


def test_clean_response_trims_outer_whitespace_before_looking_for_a_fence():
    assert clean_response("  \n```\nhi\n```\n  ") == "hi"


def test_clean_response_keeps_curly_quotes():
    assert clean_response("\u201chi\u201d") == "\u201chi\u201d"


def test_clean_response_of_blank_text_is_empty():
    assert clean_response(" \n\t ") == ""


def test_rust_trim_strips_unicode_white_space():
    assert rust_trim("\u3000\u00a0\u2009 hi \u2028\u205f\x85") == "hi"


def test_rust_trim_keeps_information_separators_that_str_strip_removes():
    assert rust_trim("\x1chi\x1f") == "\x1chi\x1f"
    assert "\x1chi\x1f".strip() == "hi"  # the difference rust_trim exists for


def test_clean_response_uses_rust_trim():
    assert clean_response("\x1f hello \x1f") == "\x1f hello \x1f"


def test_format_vector_v1_shape():
    assert format_vector([0.1, 0.2, -0.3]) == "[0.100000,0.200000,-0.300000]"


def test_format_vector_v2_empty():
    assert format_vector([]) == "[]"


def test_format_vector_prints_negative_zero_like_rust():
    assert format_vector([-0.0, -1e-9]) == "[-0.000000,-0.000000]"


def test_format_vector_rounds_through_float32():
    # As a double 3.5e-06 lies just below the half-way point and prints 0.000003; its float32
    # neighbour lies just above it, and Rust formats the f32.
    assert format(3.5e-06, ".6f") == "0.000003"
    assert format_vector([3.5e-06]) == "[0.000004]"
    assert format_vector([1.0, 0.5, 2**-20]) == "[1.000000,0.500000,0.000001]"


def test_format_vector_accepts_any_iterable():
    assert format_vector(x / 2 for x in range(3)) == "[0.000000,0.500000,1.000000]"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e39])
def test_format_vector_rejects_values_pgvector_cannot_store(bad):
    with pytest.raises(ValueError):
        format_vector([0.0, bad])


def _stream_clean(chunks: list[str]) -> tuple[str, list[str]]:
    cleaner = StreamCleaner()
    shown = [cleaner.feed(chunk) for chunk in chunks]
    shown.append(cleaner.finish())
    return "".join(shown), shown


@pytest.mark.parametrize(("vector", "raw", "expected"), REFERENCE_VECTORS)
def test_stream_cleaner_matches_reference_vectors_one_character_at_a_time(vector, raw, expected):
    assert _stream_clean(list(raw))[0] == expected


def test_stream_cleaner_equals_clean_response_for_any_chunking():
    pieces = ["a", " ", '"', "「", "」", "`", "\n", "xy", "```", "```json\n", "\t", "b c", "\u3000"]
    rng = random.Random(20240521)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 9)))
        cuts = sorted(rng.sample(range(len(text) + 1), min(len(text) + 1, rng.randint(0, 4))))
        chunks = [text[i:j] for i, j in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        assert _stream_clean(chunks)[0] == clean_response(text), (text, chunks)


def test_stream_cleaner_shows_text_as_soon_as_it_is_final():
    _, shown = _stream_clean(['  "Hel', "lo", ' there"', "  "])
    assert shown == ["Hel", "lo", " there", "", ""]


def test_stream_cleaner_holds_a_fenced_reply_until_the_end():
    _, shown = _stream_clean(["``", "`text\nhi", "\n```"])
    assert shown == ["", "", "", "hi"]
