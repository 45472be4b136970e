"""The affinity evaluator's answer, from a small sentiment lexicon anyone can read.

Only the user's message is scored (the companion's reply and the current vector are not): a
handful of warm and hostile words with a two-word negation window, confiding phrases, the
facts :func:`~eros.llm.offline.extraction.extract` finds, and question marks.

Calibration: the steps are sized like a model evaluator's answers to clearly warm or clearly
hostile messages, within the ±0.15 bound, so that the engine's state visibly moves in a
no-model chat. Under the default ``EMA_INERTIA`` of 0.8 (a fifth of each delta applied):

- 15 warm messages of one warm word each raise warmth by 15 × 0.2 × 0.06 = +0.18 (two warm
  words each: +0.36), and ease tension;
- hostile messages of two hostile hits each (``"Shut up, you're boring."``) give warmth,
  intrigue −0.15 and tension +0.15, so the ghost score ``(1 − intrigue)·0.4 + (1 −
  patience)·0.4 + tension·0.2`` rises by 0.018 a turn from a new session's 0.42 and passes
  the 0.65 threshold after 13 of them: the 14th message is ghosted (the PDE lets a session
  ghost from its 10th message; patience is rule-owned and does not move here).

``tests/companions/test_offline_calibration.py`` replays both through the real pipeline.
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

#: Warmth per warm hit (at most 3 count: 1 → +0.06, 2 → +0.12, 3 → the +0.15 bound).
WARM_STEP = 0.06
#: Per hostile hit: warmth and intrigue down, tension up (1 → 0.10, 2 or more → the bound).
HOSTILE_STEP = 0.10
#: Tension eased by a kind message with no hostile hit.
EASE_STEP = 0.03
#: Intrigue per question mark (at most 2 count).
QUESTION_STEP = 0.03


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
    kind = bool(n_warm) and not n_hostile
    # Sized like a model evaluator's answer to a clearly warm or hostile message (a warm
    # line +0.06..+0.15 warmth, an insult -0.10..-0.15 warmth and +0.10..+0.15 tension), so
    # that under the default inertia a newcomer's chat moves the vector visibly: see
    # "Calibration" in the module docstring.
    warmth = WARM_STEP * n_warm - HOSTILE_STEP * n_hostile
    tension = HOSTILE_STEP * n_hostile - (EASE_STEP if kind else 0.0)
    # Being insulted makes her less curious about the user, as a model judges it.
    intrigue = QUESTION_STEP * questions - HOSTILE_STEP * n_hostile
    trust = (
        (0.03 if shared else 0.0)
        + (0.04 if vulnerable or confided else 0.0)
        + (0.02 if kind else 0.0)
        - 0.05 * n_hostile
    )
    intimacy = (
        (0.02 if shared else 0.0) + (0.05 if vulnerable or confided else 0.0) - 0.03 * n_hostile
    )

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
