"""The text-search configuration a memory is stemmed with: its language, or ``simple``.

Every memory row carries ``ts_config`` (a PostgreSQL ``regconfig``); its ``content_tsv`` is
``to_tsvector(ts_config, content)``, and recall parses the query words with each row's own
configuration, so "running" finds "runs" in an English memory while a ``simple`` row matches
only the exact word. The language is detected with py3langid (Lui & Baldwin's langid.py
model) restricted to the languages PostgreSQL ≥ 15 ships Snowball stemmers for; a text too
short or too mixed to tell (normalised probability below :data:`MIN_PROBABILITY`) gets
``simple``, which never stems and never drops a stopword: a wrong stemmer would do worse.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

#: The configuration used when the language is unknown: no stemming, no stopwords.
FALLBACK_CONFIG = "simple"

#: ISO 639-1 code → PostgreSQL text-search configuration (all built in since PostgreSQL 14).
TEXT_SEARCH_CONFIGS: dict[str, str] = {
    "ar": "arabic",
    "hy": "armenian",
    "eu": "basque",
    "ca": "catalan",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "hi": "hindi",
    "hu": "hungarian",
    "id": "indonesian",
    "ga": "irish",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "es": "spanish",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}

#: The configurations a row may carry: the fallback and every mapped language.
CONFIGS = frozenset({FALLBACK_CONFIG, *TEXT_SEARCH_CONFIGS.values()})

#: Below this normalised probability the language counts as unknown.
MIN_PROBABILITY = 0.8
#: Fewer letters than this are never classified (``ok``, ``haha``, a name).
MIN_LETTERS = 12
#: Only the first characters are classified: enough to tell, and bounded work.
MAX_CHARS = 2000


@functools.cache
def _identifier():
    # Loading the model takes a few seconds (a compressed numpy archive): once per process,
    # on the first write that needs it, never on the reply path (writes run in post-process).
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(sorted(TEXT_SEARCH_CONFIGS))
    return identifier


def text_search_config(texts: str | Iterable[str]) -> str:
    """The PostgreSQL text-search configuration for ``texts`` (one string or several of the
    same speaker, joined): a name from :data:`CONFIGS`, ``simple`` when unsure.
    """
    text = texts if isinstance(texts, str) else "\n".join(texts)
    text = text[:MAX_CHARS]
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return FALLBACK_CONFIG
    code, probability = _identifier().classify(text)
    if probability < MIN_PROBABILITY:
        return FALLBACK_CONFIG
    return TEXT_SEARCH_CONFIGS.get(code, FALLBACK_CONFIG)
