"""The affinity evaluator's answer, from a small sentiment lexicon anyone can read.

Only the user's message is scored (the companion's reply and the current vector are not): a
handful of warm and hostile words with a two-word negation window, confiding phrases, the
facts :func:`~eros.llm.offline.extraction.extract` finds, and question marks.
"""

from __future__ import annotations

import re
from typing import Any

from eros.llm.offline.extraction import extract
from eros.llm.offline.text import normalise

#: Bound of every per-turn change, as for a model evaluator (DESIGN §9 item 5).
MAX_DELTA = 0.15

_VULNERABLE_FEELINGS = frozenset(
    "sad lonely anxious depressed overwhelmed scared afraid homesick heartbroken miserable "
    "hurt".split()
)

# Affinity lexicon (a small, visible list; the reason names the words that matched).
_POSITIVE_WORDS = frozenset(
    """
    love loved lovely like liked thanks thank thx appreciate appreciated sweet kind cute adorable
    wonderful amazing awesome great beautiful happy glad miss missed care hug hugs haha hahaha
    lol nice fun funny brilliant perfect best favourite favorite proud yay enjoyed enjoy
    """.split()
)
_POSITIVE_MARKS = ("<3", "❤", "😊", "🥰", "😍", "😘", "🤗", ":)", ":-)", ":D")
_HOSTILE_WORDS = frozenset(
    """
    hate stupid idiot dumb annoying boring ugly useless worst awful terrible pathetic stfu fuck
    fucking shit loser creepy liar disgusting moron
    """.split()
)
_HOSTILE_PHRASES = ("shut up", "go away", "leave me alone", "screw you")
_NEGATORS = frozenset(
    "not no never don't dont doesn't didn't isn't wasn't aren't can't cannot won't hardly".split()
)
_CONFIDING_PHRASES = ("never told", "secret", "between us", "trust you", "only you")


def sentiment(user_message: str) -> tuple[list[str], list[str]]:
    """(warm, hostile) lexicon hits in message order; marks and phrases come last."""
    text = normalise(user_message).lower()
    tokens = re.findall(r"[a-z]+(?:'[a-z]+)?", text)
    warm: list[str] = []
    hostile: list[str] = []
    for index, token in enumerate(tokens):
        # "don't like", "not nice": a negator up to two words before flips a warm word.
        negator = next((t for t in tokens[max(0, index - 2) : index] if t in _NEGATORS), None)
        if token in _POSITIVE_WORDS:
            if negator:
                hostile.append(f"{negator} {token}")
            else:
                warm.append(token)
        elif token in _HOSTILE_WORDS and not negator:
            hostile.append(token)
    warm += [mark for mark in _POSITIVE_MARKS if mark in user_message]
    hostile += [phrase for phrase in _HOSTILE_PHRASES if phrase in text]
    return warm, hostile


def evaluate(user_message: str) -> dict[str, Any]:
    """How the user's message moves the companion, as the evaluator answers it.

    Returns ``{"warmth", "trust", "intrigue", "intimacy", "tension": float, "reason": str}``,
    each change within ±:data:`MAX_DELTA` and rounded to 3 decimals; no ``patience`` key
    (patience is rule-owned). Warm words raise warmth and ease tension, hostile ones do the
    opposite; stated facts and confidences build trust and intimacy; questions raise intrigue.
    The reason names the words that matched.
    """
    text = normalise(user_message).lower()
    warm, hostile = sentiment(user_message)
    matches = extract(user_message)
    shared = bool(matches)
    vulnerable = any(
        m.kind == "feeling" and m.value.split()[0] in _VULNERABLE_FEELINGS for m in matches
    )
    confided = [phrase for phrase in _CONFIDING_PHRASES if phrase in text]
    questions = min(user_message.count("?"), 2)

    n_warm, n_hostile = min(len(warm), 3), min(len(hostile), 3)
    warmth = 0.04 * n_warm - 0.06 * n_hostile
    tension = 0.08 * n_hostile - (0.02 if n_warm and not n_hostile else 0.0)
    trust = (0.03 if shared else 0.0) + (0.03 if vulnerable or confided else 0.0)
    intimacy = (0.02 if shared else 0.0) + (0.05 if vulnerable or confided else 0.0)
    intrigue = 0.03 * questions

    reasons: list[str] = []
    if warm:
        reasons.append("warm words: " + ", ".join(dict.fromkeys(warm)))
    if hostile:
        reasons.append("hostile words: " + ", ".join(dict.fromkeys(hostile)))
    if vulnerable or confided:
        reasons.append("confided something personal")
    elif shared:
        reasons.append("shared personal details")
    if questions:
        reasons.append("asked a question" if questions == 1 else "asked questions")
    return {
        "warmth": _bounded(warmth),
        "trust": _bounded(trust),
        "intrigue": _bounded(intrigue),
        "intimacy": _bounded(intimacy),
        "tension": _bounded(tension),
        "reason": "; ".join(reasons) if reasons else "no strong signal in the message",
    }


def _bounded(value: float) -> float:
    value = round(value, 3) + 0.0  # + 0.0 turns -0.0 into 0.0
    if value < -MAX_DELTA:
        return -MAX_DELTA
    if value > MAX_DELTA:
        return MAX_DELTA
    return value
