"""Offline importance of a memory, in [0, 1], from its category and plain cues.

Used when no model scored the memory (the offline providers, a model answer without a score,
raw turn rows). Transparent on purpose: a base by category, then small steps up for what makes
a memory worth recalling later (the speaker's own life: first person, life events, names and
numbers) and down for what rarely is (questions, acknowledgements, very short lines). Recall
adds ``IMPORTANCE_WEIGHT × importance`` to a memory's vector score; a row with no importance
counts as :data:`memory.selectors.NEUTRAL_IMPORTANCE` (0.5).
"""

from __future__ import annotations

import re

#: Starting points by category (``None``: a raw line, not yet distilled).
BASE_BY_CATEGORY: dict[str | None, float] = {
    "fact": 0.6,
    "relation": 0.6,
    "event": 0.55,
    "emotion": 0.5,
    "preference": 0.5,
    None: 0.4,
}

# Words that mark the speaker's own life (first person).
_FIRST_PERSON = frozenset("i i'm im i've ive i'd my mine me we we're our us myself".split())
# Life facts and events people expect to be remembered (English stems; other languages get
# only the language-neutral cues).
_LIFE = re.compile(
    r"\b(live[sd]?|moved?|moving|work(s|ed|ing)?|job|boss|colleague|hired|fired|quit|promot|"
    r"retir|name[ds]?|called|born|birthday|age[ds]?|years? old|allerg|vegan|vegetarian|"
    r"married|wedding|engaged|divorc|partner|husband|wife|boyfriend|girlfriend|broke up|"
    r"mum|mom|dad|mother|father|sister|brother|son|daughter|grand|aunt|uncle|cousin|"
    r"friend|dog|cat|pet|puppy|kitten|adopt|died|funeral|pregnan|baby|diagnos|surgery|"
    r"hospital|sick|ill|therapy|anxious|anxiety|depress|scared|afraid|fear|"
    r"exam|interview|degree|thesis|graduat|school|universit|study|studying|"
    r"favou?rite|love|hate|dream|plan|promise|goal|learn|started|stopped|never|always)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d")
_ACK = re.compile(
    r"^\W*(ok(ay)?|k|kk|yes|yeah|yep|no|nope|sure|thanks?( you)?|thx|ty|lol|haha+|hehe|hm+|"
    r"cool|nice|great|good|wow|omg|same|right|true|fair|aw+|oh|ah|hi|hey|hello|bye|"
    r"good ?night|gn|night)\W*$",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SPEAKER = re.compile(r"^[^\n:]{1,40}:\s+")


def clamp_importance(value: float) -> float:
    """``value`` bounded to [0, 1] and rounded to 4 decimals, as stored.

    Rounding keeps subnormal numbers (5e-324, say) out of the column: recall multiplies
    importance by its weight, and PostgreSQL reports a product that underflows as an error.
    """
    return round(min(1.0, max(0.0, float(value))), 4)


def importance_from_cues(content: str, category: str | None = None) -> float:
    """The offline importance of ``content`` in [0, 1], rounded to 2 decimals.

    A leading ``Name: `` speaker label is ignored. Steps: +0.1 first person, +0.15 a life cue
    (work, home, family, pets, health, plans, loves and fears), +0.05 a number, +0.05 a name
    (a capitalised word after the first); −0.2 a question, −0.3 an acknowledgement or greeting
    alone, −0.1 three words or fewer.
    """
    text = _SPEAKER.sub("", content.strip(), count=1)
    score = BASE_BY_CATEGORY.get(category, BASE_BY_CATEGORY["fact"])
    words = _WORDS.findall(text)
    lowered = {w.lower() for w in words}
    if lowered & _FIRST_PERSON:
        score += 0.1
    if _LIFE.search(text):
        score += 0.15
    if _NUMBER.search(text):
        score += 0.05
    if any(w[:1].isupper() and w.lower() not in _FIRST_PERSON for w in words[1:]):
        score += 0.05
    if text.rstrip().endswith("?"):
        score -= 0.2
    if _ACK.match(text):
        score -= 0.3
    elif len(words) <= 3:
        score -= 0.1
    return round(min(1.0, max(0.0, score)), 2)
