"""The ``local`` embedder: hashed word and character-trigram features, no network, no model.

It lets the engine store and recall memories with no API key (DESIGN §6). Similarity is
lexical, not semantic: texts that share words or word fragments ("hike", "hiking") are
close; paraphrases with no shared fragments are not.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

DEFAULT_DIM = 512

WORD_WEIGHT = 1.0
NGRAM_WEIGHT = 0.5

_TOKEN = re.compile(r"\w+")
# Scripts written without spaces: a whole run is one \w+ token, so character bigrams are
# added (most Chinese words are two characters) on top of the trigrams every word gets.
_NO_SPACE_SCRIPT = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"  # kana, CJK, hangul
)

# Function words that carry no topic. Apostrophe fragments ("i'm" → "i", "m") are included.
STOPWORDS = frozenset(
    """
    a about after again all am an and any are as at be been being but by can could d did do
    does doing don for from had has have having he her here hers him his how i if in into is
    it its just ll m me more most my myself no nor not now of off on once only or other our
    ours out over re s so some such t than that the their theirs them then there these they
    this those to too up ve very was we were what when where which while who whom why will
    with would you your yours
    """.split()
)


class LocalEmbedder:
    """Deterministic L2-normalised hashed features of ``dim`` floats (default 512).

    Features: each lowercased Unicode word (``\\w+``, NFKC-normalised) that is not a
    stopword, weight 1.0; each character trigram of such a word with ``<``/``>`` boundary
    markers ("dog" → "<do", "dog", "og>"), weight 0.5; runs of CJK/kana/hangul also add
    character bigrams, weight 0.5. When every word is a stopword, the stopwords are used
    rather than nothing. Each feature is hashed with BLAKE2b into a bucket and a sign, so the
    vector is identical across processes and machines. Documents and queries use the same
    features. A text with no words (empty, blank, punctuation only) gets the fixed unit vector
    with 1.0 at index 0: a zero vector would make pgvector's cosine distance NaN.
    """

    name = "local"

    def __init__(self, dim: int = DEFAULT_DIM):
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = dim

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector of ``dim`` floats per text, in order."""
        return [self.embed(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        """The same vector :meth:`embed_documents` gives for ``text``."""
        return self.embed(text)

    def embed(self, text: str) -> list[float]:
        """A unit vector of ``dim`` floats for ``text`` (see the class docstring)."""
        words = _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())
        content = [w for w in words if w not in STOPWORDS] or words
        weights: dict[int, float] = {}
        for word in content:
            for index, value in _word_features(word, self.dim):
                weights[index] = weights.get(index, 0.0) + value
        norm = math.sqrt(sum(v * v for v in weights.values()))
        vector = [0.0] * self.dim
        if norm == 0.0:
            # No words, or (rarely) signed collisions that cancel out exactly.
            vector[0] = 1.0
            return vector
        for index, value in weights.items():
            vector[index] = value / norm
        return vector


@lru_cache(maxsize=200_000)
def _feature(key: str, dim: int, weight: float) -> tuple[int, float]:
    """(bucket, signed weight) of one feature; cached because trigrams recur across words."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    number = int.from_bytes(digest, "little")
    # Low bits pick the bucket, the top bit the sign; signed hashing keeps collisions from
    # only ever adding up (the "hashing trick").
    sign = -1.0 if number >> 63 else 1.0
    return number % dim, sign * weight


@lru_cache(maxsize=50_000)
def _word_features(word: str, dim: int) -> tuple[tuple[int, float], ...]:
    """All (bucket, signed weight) contributions of one word; cached because words repeat."""
    features = [_feature("w:" + word, dim, WORD_WEIGHT)]
    marked = f"<{word}>"
    for start in range(len(marked) - 2):
        features.append(_feature("c3:" + marked[start : start + 3], dim, NGRAM_WEIGHT))
    if _NO_SPACE_SCRIPT.search(word):
        for start in range(len(marked) - 1):
            features.append(_feature("c2:" + marked[start : start + 2], dim, NGRAM_WEIGHT))
    return tuple(features)
