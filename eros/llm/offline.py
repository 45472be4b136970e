"""The ``offline`` chat model: deterministic heuristics in place of a language model.

It lets the whole engine run with no API key and no network (DESIGN §6). It never pretends
to understand: replies are composed from templates, the persona card and the top recalled
memory; extraction and evaluation use transparent English first-person patterns ("I live in
X", "I work as a Y", "I love Z") and a small sentiment lexicon. Other languages get a reply
but no extracted facts. The same request always gives the same answer.

Payload keys per ``request.task`` (``ChatRequest.payload``; missing keys count as empty):

``chat_companion``
    ``persona``: dict with ``name`` (str), ``age`` (int), ``speech_style`` (str), ``quirks``
    (list of str), ``topics`` (list of str), ``backstory`` (str); only ``name``, ``age`` and
    ``topics`` are used. ``style``: ``warm``, ``neutral``, ``cold``, ``tsundere`` or
    ``excited`` (anything else → neutral). ``label``: relationship label (``stranger``,
    ``friend``, ``romantic``, ``frenemy``, ``slow_burn``). ``affinity``: dict of the six axes
    in [0, 1]. ``recalled``: memory contents, best first (may be empty). ``insights``: the
    user's profile dict (unused). ``user_message``: str. ``turn``: int, the user's message
    count. Returns 1–3 English sentences, passed through ``clean_response``.
``insight_extraction`` with ``step`` = ``"facts"``
    ``user_message``, ``reply`` (the reply is not mined: facts are about the user). Returns
    ``{"facts": [str, ...]}`` with lowercase third-person facts such as ``"lives in Lisbon"``,
    ``"works as a nurse"``, ``"works at the hospital"``, ``"likes hiking"``,
    ``"dislikes mornings"``, ``"has a dog called Biscuit"``, ``"is 29 years old"``,
    ``"is a night owl"``, ``"is shy"``.
``insight_extraction`` with ``step`` = ``"structure"``
    ``facts`` (list of str), ``existing`` (the stored profile dict). Returns an object with
    only the fields it can fill from facts in the shapes above: ``city`` (str),
    ``occupation`` (str), ``interests`` (existing + new, de-duplicated case-insensitively;
    present only when something is new), ``life_rhythm`` (str), ``personality_traits``
    (same merge rule). ``{}`` when nothing applies.
``memory_extraction``
    ``messages``: list of ``{"id": str, "role": "user"|"assistant", "content": str}``.
    Returns ``{"memories": [{"content", "category", "source_message_ids"}]}``, at most 10,
    from user messages only, in order of appearance; identical contents are merged and cite
    every source. Categories: ``fact`` (lives/works/age/pet/life rhythm), ``preference``
    (love/like/enjoy/hate…), ``event`` ("today I…", "I just…", "I went … yesterday"),
    ``emotion`` (feelings, personality traits), ``relation`` ("my sister…", "I miss my mom").
    Content is third person without a subject, e.g. ``"Lives in Lisbon"``.
``affinity_evaluation``
    ``user_message``, ``reply`` and ``affinity`` (accepted; only the user message is read).
    Returns ``{"warmth", "trust", "intrigue", "intimacy", "tension": float, "reason": str}``,
    each change within ±0.15 and rounded to 3 decimals; no ``patience`` key.

Any other task, or another insight step, raises ``ProviderError(retryable=False)``.
Every result is ``ChatResult(text=<JSON or reply text>, model="offline")``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eros.llm.base import (
    TASK_AFFINITY,
    TASK_CHAT,
    TASK_INSIGHT,
    TASK_MEMORY,
    ChatRequest,
    ChatResult,
    ProviderError,
)
from eros.llm.cleaning import clean_response, rust_trim

MODEL_NAME = "offline"
MAX_MEMORIES = 10
MAX_DELTA = 0.15

# --------------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------------

# A phrase ends at the first of these words ("I love hiking because…" → "hiking").
_CONJUNCTIONS = frozenset(
    "and but or so because cause cuz though although since while when whenever if which who "
    "where then yet unless until whereas".split()
)
# Words that never end a phrase well ("to go hiking with" → "to go hiking").
_DANGLING = frozenset(
    "with on in at to for of the a an my your their and from by about as into like".split()
)
_TAIL_FILLERS = frozenset(
    "now too lately anymore really though currently haha lol honestly either".split()
)
_PLACE_STOPS = _CONJUNCTIONS | {"with", "for", "at", "near", "now", "currently", "right", "these"}
_PLACE_STOPS |= {"last", "this", "next", "on", "since", "ago", "from"}
_TIME_WORDS = frozenset("today tonight tomorrow yesterday".split())
_PLACE_STOPS |= _TIME_WORDS
_JOB_STOPS = _CONJUNCTIONS | _TIME_WORDS | {"at", "in", "for", "with", "from", "on", "by", "now"}
_WORKPLACE_STOPS = _CONJUNCTIONS | _TIME_WORDS | {"as", "in", "now", "on", "with", "for"}
_DETERMINERS = frozenset("a an the my our this that their his her some".split())
# A list item starting with one of these begins a new clause ("I love tea and I hate…").
_CLAUSE_STARTERS = frozenset(
    "i i'm i've i'd i'll you you're he she we they it it's this that these those when how what "
    "him her them me us".split()
)
_COPULAS = frozenset("is are was were am 's".split())
_VAGUE_OBJECTS = frozenset("myself me it this that them you a living".split())

_OCCUPATIONS = frozenset(
    """
    accountant actor actress analyst architect artist assistant baker barber barista bartender
    biologist butcher carpenter cashier chef chemist cleaner clerk coach consultant cook
    counselor counsellor dancer dentist designer developer doctor driver economist editor
    electrician engineer farmer firefighter florist freelancer gardener guard hairdresser
    illustrator instructor intern journalist judge lawyer lecturer librarian manager mechanic
    medic midwife model musician nanny nurse officer painter paramedic pharmacist photographer
    physicist pilot plumber poet police policeman policewoman producer professor programmer
    psychologist receptionist researcher salesman saleswoman scientist secretary singer soldier
    student surgeon tailor teacher technician therapist translator tutor vet veterinarian
    waiter waitress welder writer novelist columnist stylist courier postman
    mathematician volunteer
    """.split()
)
_OCCUPATION_SUFFIXES = ("ician", "ologist", "grapher", "eer")

_PETS = (
    r"guinea pig|dog|cat|puppy|kitten|rabbit|bunny|hamster|parrot|bird|fish|turtle|tortoise|"
    r"horse|snake|lizard|ferret|rat|mouse|budgie"
)
_RELATIONS = (
    r"best friend|friends|friend|boyfriend|girlfriend|husband|wife|partner|fiancée|fiancee|"
    r"fiancé|fiance|sister|brother|mom|mum|mother|dad|father|parents|son|daughter|kids|children|"
    r"grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|roommate|flatmate|boss|coworker|"
    r"co-worker|colleague|family|niece|nephew|ex"
)
_RHYTHMS = r"night owl|early bird|morning person|night person|early riser"
_TRAITS = (
    r"introverted|introvert|extroverted|extrovert|outgoing|shy|curious|creative|organised|"
    r"organized|messy|lazy|ambitious|impatient|patient|optimistic|optimist|pessimistic|"
    r"pessimist|stubborn|sensitive|competitive|adventurous|sarcastic|independent|talkative|"
    r"quiet|nerdy|nerd|clumsy|spontaneous|introspective|perfectionist|easygoing|easy-going|"
    r"laid-back|laid back"
)
_TRAIT_NOUNS = frozenset("introvert extrovert optimist pessimist nerd perfectionist".split())
_TRAIT_CANONICAL = {
    "introvert": "introverted",
    "extrovert": "extroverted",
    "optimist": "optimistic",
    "pessimist": "pessimistic",
    "nerd": "nerdy",
    "laid back": "laid-back",
}
_FEELINGS = (
    r"stressed out|burned out|burnt out|tired|exhausted|sad|happy|anxious|stressed|lonely|"
    r"excited|nervous|worried|angry|upset|bored|depressed|overwhelmed|frustrated|scared|afraid|"
    r"calm|grateful|hopeful|proud|homesick|heartbroken|sick|miserable|relieved|annoyed|"
    r"jealous|confused|hurt"
)
_NEGATIVE_FEELINGS = frozenset(
    "stressed out|burned out|burnt out|tired|exhausted|sad|anxious|stressed|lonely|nervous|"
    "worried|angry|upset|bored|depressed|overwhelmed|frustrated|scared|afraid|homesick|"
    "heartbroken|sick|miserable|annoyed|jealous|confused|hurt".split("|")
)
_VULNERABLE_FEELINGS = frozenset(
    "sad lonely anxious depressed overwhelmed scared afraid homesick heartbroken miserable "
    "hurt".split()
)
_WHEN = (
    r"today|yesterday|this morning|last night|tonight|this weekend|last weekend|last week|"
    r"this afternoon|this evening"
)
_IRREGULAR_PAST = frozenset(
    """
    went got had made met saw took bought ate ran won lost left came found gave told felt heard
    began broke caught drove fell flew forgot kept knew paid sold sent spent thought wrote
    became brought built chose did drank quit slept spoke stood swam taught threw understood
    woke wore turned dyed held hung led lit rode rang sang sat shot shut stole struck swore
    tore
    """.split()
)
_NOT_PAST = frozenset("need feed bleed seed speed proceed succeed exceed breed weed shed".split())
_ADVERBS = frozenset("finally actually also just really".split())
_MODALS = frozenset("can could will would should must might may can't won't".split())

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

_STOPWORDS = frozenset(
    """
    a about after again all am an and any are as at be been being but by can could did do does
    doing don for from had has have having he her here hers him his how i if in into is it its
    just me more most my myself no nor not now of off on once only or other our ours out over
    so some such than that the their theirs them then there these they this those to too up
    very was we were what when where which while who whom why will with would you your yours
    i'm i've i'll i'd it's that's don't can't really actually think know yeah okay maybe
    something anything thing things stuff today yesterday tonight hello hey hiya morning
    evening pretty kind sort also still even much many well everyone everything someone
    somebody anyone anything nothing nobody always never because though should
    """.split()
)

# --------------------------------------------------------------------------------------------
# Phrase helpers
# --------------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def _normalise(text: str) -> str:
    """Straighten curly apostrophes so one set of patterns covers both."""
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _bare(word: str) -> str:
    return word.lower().strip("'\"()[]*_")


def _clip(phrase: str, stops: frozenset[str] | set[str], max_words: int) -> str:
    """The start of ``phrase``: up to ``max_words`` words, ending before any word in ``stops``."""
    kept: list[str] = []
    for word in phrase.split():
        if _bare(word) in stops:
            break
        kept.append(word)
        if len(kept) == max_words:
            break
    while kept and (_bare(kept[-1]) in _DANGLING or _bare(kept[-1]) in _TAIL_FILLERS):
        kept.pop()
    return " ".join(kept).strip("'\"()[]*_-–— ")


_THIRD_PERSON = {
    "i": "they",
    "me": "them",
    "my": "their",
    "mine": "theirs",
    "myself": "themselves",
    "i'm": "they're",
    "i've": "they've",
    "i'll": "they'll",
    "i'd": "they'd",
    "am": "are",
}
_SECOND_PERSON = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "i'm": "you're",
    "i've": "you've",
    "i'll": "you'll",
    "i'd": "you'd",
    "am": "are",
    "they": "you",
    "them": "you",
    "their": "your",
    "theirs": "yours",
    "themselves": "yourself",
    "they're": "you're",
    "they've": "you've",
    "they'll": "you'll",
}


def _swap_person(text: str, table: Mapping[str, str]) -> str:
    """Replace pronouns word by word (``my`` → ``their``), keeping a capital initial."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        new = table.get(word.lower())
        if new is None:
            return word
        return new[0].upper() + new[1:] if word[0].isupper() and word != "I" else new

    return _WORD.sub(swap, text)


def _is_past(word: str) -> bool:
    word = word.lower()
    return word in _IRREGULAR_PAST or (
        len(word) > 3 and word.endswith("ed") and word not in _NOT_PAST
    )


def _third_person_verb(verb: str) -> str:
    """``love`` → ``loves``; past tenses, modals and negated auxiliaries stay as they are."""
    low = verb.lower()
    special = {"have": "has", "do": "does", "go": "goes", "am": "is", "'m": "is", "are": "is"}
    special |= {"be": "is", "don't": "doesn't", "can't": "can't", "haven't": "hasn't"}
    if low in special:
        return special[low]
    if _is_past(low) or low in _MODALS or low.endswith("n't"):
        return low
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return low + "es"
    if len(low) > 1 and low.endswith("y") and low[-2] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


def _base_verb(verb: str) -> str:
    """``lives`` → ``live``, ``has`` → ``have``, ``is`` → ``are``; others unchanged."""
    low = verb.lower()
    special = {"has": "have", "is": "are", "was": "were", "does": "do", "goes": "go"}
    special |= {"doesn't": "don't", "isn't": "aren't", "wasn't": "weren't", "hasn't": "haven't"}
    if low in special:
        return special[low]
    if low.endswith("ies") and len(low) > 4:
        return low[:-3] + "y"
    if low.endswith(("sses", "shes", "ches", "xes", "zes", "oes")):
        return low[:-2]
    if low.endswith("s") and not low.endswith("ss") and len(low) > 2:
        return low[:-1]
    return low


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _with_article(noun_phrase: str) -> str:
    return ("an " if noun_phrase[:1].lower() in "aeiou" else "a ") + noun_phrase


def _is_occupation(phrase: str) -> bool:
    words = phrase.lower().split()
    if not words:
        return False
    head = words[-1]
    return head in _OCCUPATIONS or head.endswith(_OCCUPATION_SUFFIXES)


def _verb_like(word: str) -> bool:
    """Whether ``word`` can start a predicate after a subject ("lives", "is", "went")."""
    low = word.lower()
    if low in {"is", "was", "has", "had", "are", "were", "will", "can", "just", "always"}:
        return True
    if low in {"never", "still", "also", "really", "doesn't", "didn't", "isn't", "wasn't"}:
        return True
    if low in _MODALS or _is_past(low):
        return True
    return len(low) > 3 and low.endswith("s") and not low.endswith("ss")


# --------------------------------------------------------------------------------------------
# Extraction: one pass over a user message yields typed matches
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Match:
    """One thing the user said about themself: ``kind`` plus a short ``value``."""

    kind: str  # place job workplace like dislike pet age rhythm trait feeling event relation
    value: str
    start: int
    end: int
    extra: str = ""  # verb, pet species, relation, tense or time word, depending on kind


_P = r"[^.,!?;:\n]+"  # a phrase: runs to the next punctuation mark
_PL = r"[^.!?;:\n]+"  # a list phrase: commas allowed


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_PLACE_RES = [
    _rx(rf"\bI (?:currently |still |now )?live in (?P<v>{_P})"),
    _rx(rf"\bI(?:'m| am) (?:currently |now )?(?:living|based) in (?P<v>{_P})"),
    _rx(rf"\bI(?:'m| am) (?:originally )?from (?P<v>{_P})"),
    _rx(rf"\bI come from (?P<v>{_P})"),
    _rx(rf"\bI(?:'ve| have)? (?:just |recently )?(?:moved|relocated) to (?P<v>{_P})"),
]
_JOB_EXPLICIT_RE = _rx(
    rf"\bI(?:'m| am)? (?:currently |still )?work(?:ing)? as (?P<art>an? )?(?P<v>{_P})"
)
_JOB_IM_A_RE = _rx(rf"\bI(?:'m| am) (?P<art>an? )(?P<v>{_P})")
_JOB_MY_JOB_RE = _rx(rf"\bmy job is (?:being )?(?P<art>an? )?(?P<v>{_P})")
_WORKPLACE_RE = _rx(rf"\bI(?:'m| am)? (?:currently |still )?work(?:ing)? (?:at|for) (?P<v>{_P})")
_LIKE_RES = [
    _rx(
        r"\bI(?: really| totally| absolutely| just| also| honestly| kinda| kind of)?"
        rf" (?P<verb>love|like|enjoy|adore)\b (?P<v>{_PL})"
    ),
    _rx(rf"\bI(?:'m| am) (?:really |totally |so |super |very )?(?P<verb>into) (?P<v>{_PL})"),
    _rx(rf"\bI(?:'m| am) (?:a )?(?:huge |big |massive )?(?P<verb>fan) of (?P<v>{_PL})"),
]
_DISLIKE_RE = _rx(
    r"\bI(?: really| just| honestly| absolutely)?"
    r" (?P<verb>hate|dislike|can't stand|cannot stand|don't like|do not like|can't bear)\b"
    rf" (?P<v>{_PL})"
)
_PET_RES = [
    _rx(
        rf"\bmy (?P<extra>{_PETS})(?:'s name is|'s called| is called| is named| called| named)"
        rf" (?P<v>{_P})"
    ),
    _rx(
        rf"\bI (?:have|got|adopted|have got)(?: got)? an? (?:\w+ )?(?P<extra>{_PETS})"
        rf" (?:called|named) (?P<v>{_P})"
    ),
]
_AGE_RES = [
    _rx(r"\bI(?:'m| am) (?P<v>\d{1,3}) ?(?:(?:years?|yrs?) old|yo|y/o)\b"),
    _rx(r"\bI(?: just)? turned (?P<v>\d{1,3})\b"),
]
_MODIFIERS = (
    r"(?: (?:such|a|an|total|real|complete|bit|of|kind|sort|really|definitely|totally|more|"
    r"big|huge|very|quite|pretty|kinda|little|super|so|rather|fairly|naturally))*"
)
_RHYTHM_RE = _rx(rf"\bI(?:'m| am){_MODIFIERS} (?P<v>{_RHYTHMS})\b")
_TRAIT_RE = _rx(rf"\bI(?:'m| am){_MODIFIERS} (?P<v>{_TRAITS})\b")
_FEELING_RE = _rx(
    r"\bI(?P<tense>'m|'ve been| am| have been| feel| felt| was)"
    r"(?: (?:so|really|very|a|bit|little|kind|of|kinda|pretty|super|quite|just|totally|"
    r"extremely|incredibly|feeling|still))*"
    rf" (?P<v>{_FEELINGS})\b(?: (?P<conn>about|because|since|after|over) (?P<reason>{_P}))?"
)
_EVENT_JUST_RE = _rx(rf"\bI(?:'ve| have)? just (?P<v>{_P})")
_EVENT_WHEN_FIRST_RE = _rx(
    rf"\b(?P<when>{_WHEN}),? I(?P<aux>'m|'ve|'ll| am| have| will)? (?P<v>{_P})"
)
_EVENT_WHEN_LAST_RE = _rx(
    # The clause is capped at 80 characters so a long message cannot make the lazy scan
    # quadratic.
    r"\bI (?P<v>(?:(?:finally|actually|also) )?[A-Za-z']+\b[^.,!?;:\n]{0,80}?)"
    rf" (?P<when>{_WHEN})\b"
)
_RELATION_OBJECT_RE = _rx(
    rf"\bI (?P<verb>[A-Za-z']+) my (?P<extra>{_RELATIONS})\b(?P<v>[^.,!?;:\n]*)"
)
_RELATION_SUBJECT_RE = _rx(rf"\bmy (?P<extra>{_RELATIONS})(?P<poss>'s)?\b(?P<v>{_P})")
_FEELING_WORD = _rx(rf"(?:{_FEELINGS})\b")
_QUOTED_NAME = re.compile(r"^[\"'“”]+|[\"'“”]+$")


def _extract(text: str) -> list[_Match]:
    """Everything the patterns find in one user message, ordered by position."""
    text = _normalise(text)
    found: list[_Match] = []

    def add(kind: str, value: str, m: re.Match[str], extra: str = "") -> None:
        if value:
            found.append(_Match(kind, value, m.start(), m.end(), extra))

    for rx in _PLACE_RES:
        for m in rx.finditer(text):
            add("place", _clip(m.group("v"), _PLACE_STOPS, 4), m)

    for m in _JOB_EXPLICIT_RE.finditer(text):
        add("job", _job_value(m, require_occupation=False), m)
    for m in _JOB_IM_A_RE.finditer(text):
        add("job", _job_value(m, require_occupation=True), m)
    for m in _JOB_MY_JOB_RE.finditer(text):
        add("job", _job_value(m, require_occupation=not m.group("art")), m)
    for m in _WORKPLACE_RE.finditer(text):
        value = _clip(m.group("v"), _WORKPLACE_STOPS, 4)
        if value.lower() not in _VAGUE_OBJECTS:
            add("workplace", value, m)

    for rx in _LIKE_RES:
        for m in rx.finditer(text):
            for item in _list_items(m.group("v")):
                add("like", item, m, m.group("verb").lower())
    for m in _DISLIKE_RE.finditer(text):
        for item in _list_items(m.group("v")):
            add("dislike", item, m, m.group("verb").lower())

    for rx in _PET_RES:
        for m in rx.finditer(text):
            name = _QUOTED_NAME.sub("", _clip(m.group("v"), _CONJUNCTIONS, 2))
            name = " ".join(_capitalise(w) for w in name.split())
            add("pet", name, m, m.group("extra").lower())

    for rx in _AGE_RES:
        for m in rx.finditer(text):
            if 1 <= int(m.group("v")) <= 120:
                add("age", str(int(m.group("v"))), m)

    for m in _RHYTHM_RE.finditer(text):
        add("rhythm", m.group("v").lower(), m)
    for m in _TRAIT_RE.finditer(text):
        trait = m.group("v").lower()
        before = text[: m.start("v")].split()[-1].lower()
        if before in {"a", "an"} and trait not in _TRAIT_NOUNS:
            continue  # "I'm a patient at…" is a noun, not the trait
        add("trait", _TRAIT_CANONICAL.get(trait, trait), m)

    for m in _FEELING_RE.finditer(text):
        feeling = m.group("v").lower()
        tense = m.group("tense").strip().lower()
        value = feeling
        if m.group("reason"):
            reason = _clip(m.group("reason"), _CONJUNCTIONS, 6)
            if reason:
                value = f"{feeling} {m.group('conn').lower()} {reason}"
        add("feeling", value, m, tense)

    found.extend(_relations(text))
    events = _events(text)
    # Events are the weakest reading: "I just turned 30" is an age, "Today I feel sad" a
    # feeling. Keep an event only where nothing more specific matched.
    for event in events:
        if not any(_overlaps(event, other) for other in found):
            found.append(event)

    found.sort(key=lambda m: (m.start, m.end))
    return found


def _overlaps(a: _Match, b: _Match) -> bool:
    return a.start < b.end and b.start < a.end


def _job_value(m: re.Match[str], *, require_occupation: bool) -> str:
    value = _clip(m.group("v"), _JOB_STOPS, 4)
    if value.lower().startswith("the "):
        value = value[4:]  # "I work as the head chef" → "head chef"
    if not value or (require_occupation and not _is_occupation(value)):
        return ""
    if value.lower().split()[0] in _DETERMINERS or value.lower() in _VAGUE_OBJECTS:
        return ""
    return value


def _list_items(phrase: str) -> list[str]:
    """Up to three items of "hiking, jazz and old films"; stops where a new clause begins."""
    items: list[str] = []
    for raw in re.split(r",|\band\b|\bor\b|&", phrase, flags=re.IGNORECASE):
        words = raw.split()
        if not words:
            continue
        first = _bare(words[0])
        if first in _CLAUSE_STARTERS or any(_bare(w) in _COPULAS for w in words):
            break  # a new clause ("…, dogs are fine") ends the list
        if first in {"my", "your", "our", "his"}:
            continue  # "I love my sister" is a relation, not an interest
        if any(_bare(w) in {"you", "your", "yours"} for w in words):
            continue  # "I love talking to you" is about the companion, not an interest
        item = _clip(raw, _CONJUNCTIONS, 4)
        if item and item.lower() not in _VAGUE_OBJECTS:
            items.append(_swap_person(item, _THIRD_PERSON))
        if len(items) == 3:
            break
    return items


def _relations(text: str) -> list[_Match]:
    found: list[_Match] = []
    for m in _RELATION_OBJECT_RE.finditer(text):
        verb = m.group("verb")
        if verb.lower() in _STOPWORDS:
            continue
        rest = _clip(m.group("v"), _CONJUNCTIONS, 6)
        value = f"{_third_person_verb(verb)} their {m.group('extra').lower()}"
        if rest:
            value += " " + _swap_person(rest, _THIRD_PERSON)
        found.append(_Match("relation", value, m.start(), m.end(), m.group("extra").lower()))
    for m in _RELATION_SUBJECT_RE.finditer(text):
        words = m.group("v").split()
        # The relation must be the subject: optional name, then a verb ("my sister Ana lives…").
        index = 1 if len(words) > 1 and words[0][:1].isupper() else 0
        possessive = bool(m.group("poss"))  # "my sister's wedding is…" needs no verb check
        if not possessive and (index >= len(words) or not _verb_like(words[index])):
            continue
        match = _Match("relation", "", m.start(), m.end())
        if any(_overlaps(match, other) for other in found):
            continue
        stops = _CONJUNCTIONS - {"and"}
        rest = _clip(m.group("v"), stops, 10)
        relation = m.group("extra").lower() + (m.group("poss") or "")
        value = f"their {relation} {_swap_person(rest, _THIRD_PERSON)}"
        found.append(_Match("relation", value, m.start(), m.end(), m.group("extra").lower()))
    return found


def _events(text: str) -> list[_Match]:
    found: list[_Match] = []
    for m in _EVENT_JUST_RE.finditer(text):
        clause = _clip(m.group("v"), _CONJUNCTIONS, 8)
        if clause and _is_past(clause.split()[0]):
            value = "just " + _swap_person(clause, _THIRD_PERSON)
            found.append(_Match("event", value, m.start(), m.end()))
    for m in _EVENT_WHEN_FIRST_RE.finditer(text):
        clause = _clip(m.group("v"), _CONJUNCTIONS, 8)
        if not clause:
            continue
        aux = (m.group("aux") or "").strip().lower()
        words = clause.split()
        if aux in {"'m", "am"}:
            predicate = "is " + clause
        elif aux in {"'ve", "have"}:
            predicate = "has " + clause
        elif aux in {"'ll", "will"}:
            predicate = "will " + clause
        else:
            at = 1 if len(words) > 1 and words[0].lower() in _ADVERBS else 0
            predicate = " ".join([*words[:at], _third_person_verb(words[at]), *words[at + 1 :]])
        value = _swap_person(predicate, _THIRD_PERSON)
        found.append(_Match("event", value, m.start(), m.end(), m.group("when").lower()))
    for m in _EVENT_WHEN_LAST_RE.finditer(text):
        clause = m.group("v")
        words = clause.split()
        verb_index = 1 if words[0].lower() in _ADVERBS else 0
        if verb_index >= len(words) or not _is_past(words[verb_index]) or len(words) > 10:
            continue
        if any(_bare(w) in _CONJUNCTIONS for w in words):
            continue
        match = _Match("event", "", m.start(), m.end())
        if any(_overlaps(match, other) for other in found):
            continue
        value = _swap_person(clause, _THIRD_PERSON)
        found.append(_Match("event", value, m.start(), m.end(), m.group("when").lower()))
    return found


# --------------------------------------------------------------------------------------------
# Rendering matches as facts (insight step 1) and memories (dreaming)
# --------------------------------------------------------------------------------------------


def _fact_text(m: _Match) -> str | None:
    if m.kind == "place":
        return f"lives in {m.value}"
    if m.kind == "job":
        return f"works as {_with_article(m.value)}"
    if m.kind == "workplace":
        return f"works at {m.value}"
    if m.kind == "like":
        return f"likes {m.value}"
    if m.kind == "dislike":
        return f"dislikes {m.value}"
    if m.kind == "pet":
        return f"has {_with_article(m.extra)} called {m.value}"
    if m.kind == "age":
        return f"is {m.value} years old"
    if m.kind in ("rhythm",):
        return f"is {_with_article(m.value)}"
    if m.kind == "trait":
        return f"is {m.value}"
    return None  # feelings, events and relations are moments, not profile facts


_PREFERENCE_VERBS = {
    "love": "loves",
    "like": "likes",
    "enjoy": "enjoys",
    "adore": "adores",
    "into": "is into",
    "fan": "is a fan of",
    "hate": "hates",
    "dislike": "dislikes",
    "can't stand": "can't stand",
    "cannot stand": "can't stand",
    "don't like": "doesn't like",
    "do not like": "doesn't like",
    "can't bear": "can't bear",
}


def _memory_of(m: _Match) -> tuple[str, str] | None:
    """(content, category) for one match; content is subject-less third person."""
    if m.kind in ("like", "dislike"):
        return _capitalise(f"{_PREFERENCE_VERBS[m.extra]} {m.value}"), "preference"
    if m.kind == "trait":
        return f"Is {m.value}", "emotion"
    if m.kind == "feeling":
        verb = {"felt": "Felt", "was": "Felt", "'ve been": "Has been feeling"}
        verb |= {"have been": "Has been feeling"}
        return f"{verb.get(m.extra, 'Feels')} {m.value}", "emotion"
    if m.kind == "event":
        content = _capitalise(m.value)
        return (f"{content} ({m.extra})" if m.extra else content), "event"
    if m.kind == "relation":
        return _capitalise(m.value), "relation"
    fact = _fact_text(m)
    return (_capitalise(fact), "fact") if fact else None


_STRUCTURE_RES = [
    ("city", _rx(r"^lives in (?P<v>.+)$")),
    ("occupation", _rx(r"^works as (?:an? )?(?P<v>.+)$")),
    ("interests", _rx(r"^(?:likes|loves|enjoys|adores|is into) (?:to )?(?P<v>.+)$")),
    ("life_rhythm", _rx(rf"^is an? (?P<v>{_RHYTHMS})$")),
    ("personality_traits", _rx(rf"^is (?:an? )?(?P<v>{_TRAITS})$")),
]


def _structure(facts: Sequence[Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    interests: list[str] = []
    traits: list[str] = []
    for fact in facts:
        if not isinstance(fact, str):
            continue
        text = rust_trim(_normalise(fact)).rstrip(".")
        for field, rx in _STRUCTURE_RES:
            m = rx.match(text)
            if not m:
                continue
            value = m.group("v").strip()
            if field == "city":
                if value.split()[0].lower() in _DETERMINERS:
                    break  # "lives in a small flat" is not a city
                found["city"] = value.title() if value.islower() else value  # latest wins
            elif field == "occupation":
                found["occupation"] = value
            elif field == "interests":
                interests.append(value)
            elif field == "life_rhythm":
                found["life_rhythm"] = value.lower()
            else:
                trait = value.lower()
                traits.append(_TRAIT_CANONICAL.get(trait, trait))
            break
    for field, new in (("interests", interests), ("personality_traits", traits)):
        merged = _merge_unique(existing.get(field), new)
        if merged is not None:
            found[field] = merged
    order = ["city", "occupation", "interests", "life_rhythm", "personality_traits"]
    return {key: found[key] for key in order if key in found}


def _merge_unique(old: Any, new: list[str]) -> list[str] | None:
    """``old`` + the items of ``new`` not yet present (case-insensitive); None if none are new."""
    merged = [item for item in old if isinstance(item, str)] if isinstance(old, list) else []
    seen = {item.casefold() for item in merged}
    added = False
    for item in new:
        if item.casefold() not in seen:
            seen.add(item.casefold())
            merged.append(item)
            added = True
    return merged if added else None


# --------------------------------------------------------------------------------------------
# Affinity evaluation
# --------------------------------------------------------------------------------------------


def _sentiment(user_message: str) -> tuple[list[str], list[str]]:
    """(warm, hostile) lexicon hits in message order; marks and phrases come last."""
    text = _normalise(user_message).lower()
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


def _evaluate(user_message: str) -> dict[str, Any]:
    text = _normalise(user_message).lower()
    warm, hostile = _sentiment(user_message)
    matches = _extract(user_message)
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


# --------------------------------------------------------------------------------------------
# Chat reply composition
# --------------------------------------------------------------------------------------------

_STYLES = ("warm", "neutral", "cold", "tsundere", "excited")

# Every template below is at most two sentences and a memory line is one, so a reply stays
# within three sentences. Openers are interjections glued to a lowercase reaction.
_OPENERS = {
    "warm": ("Aw, ", "Oh, ", "Mm, "),
    "neutral": ("", "Okay, ", "I see, "),
    "cold": ("Hm, ", "", "Mm, "),
    "tsundere": ("Hmph, ", "Tch, ", "Ugh, fine, "),
    "excited": ("Ooh, ", "Oh wow, ", "Wait, "),
}
_GREETINGS = {
    "warm": ("hey, you, it's really good to hear from you.", "hi, I was hoping you'd write."),
    "neutral": ("hello.", "hi, good to hear from you."),
    "cold": ("hey.", "oh, it's you."),
    "tsundere": ("oh, it's you, not that I was waiting.", "you again, huh."),
    "excited": ("hi hi, you're here!", "hey, perfect timing!"),
}
_HOW_ARE_YOU = {
    "warm": ("I'm good, and better now that you're here.",),
    "neutral": ("I'm doing fine, thanks.",),
    "cold": ("I'm fine.",),
    "tsundere": ("I'm fine. Not that you were worried.",),
    "excited": ("I'm great, honestly, now that you're here!",),
}
_DOING = {
    "warm": ("I was just thinking about {topic}.",),
    "neutral": ("not much, I was reading about {topic}.",),
    "cold": ("{topic}. The usual.",),
    "tsundere": ("nothing. Well, {topic}, if you must know.",),
    "excited": ("I was just deep into {topic}!",),
}
_DO_YOU_LIKE = {
    "warm": ("{x}? I really do.",),
    "neutral": ("{x}? I don't mind it.",),
    "cold": ("{x}? It's fine.",),
    "tsundere": ("{x}? Maybe, don't make it a thing.",),
    "excited": ("{x}? Yes, I love it!",),
}
_OTHER_QUESTION = {
    "warm": ("that's a good question, and I'd rather hear what you think first.",),
    "neutral": ("good question. I'm not sure yet.",),
    "cold": ("I don't know. Why?",),
    "tsundere": ("why do you want to know? ...I'll think about it.",),
    "excited": ("ooh, good question! I have to think about that!",),
}
_FEELING_BAD = {
    "warm": ("I'm sorry you're feeling {f}. I'm here.",),
    "neutral": ("feeling {f} is hard. Do you want to talk about it?",),
    "cold": ("{f}? Get some rest.",),
    "tsundere": ("you're {f}? ...Fine, I'll keep you company.",),
    "excited": ("oh no, {f}? Let's fix that!",),
}
_FEELING_GOOD = {
    "warm": ("I love that you're feeling {f}.",),
    "neutral": ("good to hear you're {f}.",),
    "cold": ("{f}. Good.",),
    "tsundere": ("you're {f}? Good for you, I guess.",),
    "excited": ("you're {f}? That makes me {f} too!",),
}
_LIKE = {
    "warm": ("you {verb} {x}? That's lovely.",),
    "neutral": ("you {verb} {x}? Noted.",),
    "cold": ("{x}. Fair enough.",),
    "tsundere": ("{x}? Figures, it's not a bad choice.",),
    "excited": ("you {verb} {x}? Same energy!",),
}
_PLACE = {
    "warm": ("{x}! I'd love to hear what it's like there.",),
    "neutral": ("{x}? What's it like there?",),
    "cold": ("{x}. Never been.",),
    "tsundere": ("{x}? Sounds fine, I suppose.",),
    "excited": ("{x}? I've always wanted to go!",),
}
_JOB = {
    "warm": ("{x}? That must keep you busy.",),
    "neutral": ("{x}. Do you like the work?",),
    "cold": ("{x}. Long hours?",),
    "tsundere": ("{x}? Not bad, not that I'm impressed.",),
    "excited": ("{x}? That's so cool!",),
}
_PET = {
    "warm": ("{x} is such a sweet name for {pet}.",),
    "neutral": ("{x}, nice name for {pet}.",),
    "cold": ("{x}. Good name.",),
    "tsundere": ("{x}? ...Okay, that's cute, don't tell anyone.",),
    "excited": ("{x}?! I need to meet {pet} like that!",),
}
_ECHO = {
    "warm": ("{x}? Tell me more, I'm listening.", "{x}? I want to hear all of it."),
    "neutral": ("{x}, huh?", "{x}. Go on."),
    "cold": ("{x}. Noted.", "{x}. And?"),
    "tsundere": ("{x}? Whatever, go on, then.", "{x}? Don't expect me to be impressed."),
    "excited": ("{x}? Tell me everything!", "{x}? No way, go on!"),
}
_NOTHING_TO_ECHO = {
    "warm": ("I'm here.",),
    "neutral": ("okay.",),
    "cold": ("hm.",),
    "tsundere": ("that's it? Fine.",),
    "excited": ("ha! Okay!",),
}
_MEMORY = {
    "warm": (
        "You told me before that {m}, and I haven't forgotten.",
        "I remember you telling me {m}.",
    ),
    "neutral": ("You mentioned that {m}.", "You told me before that {m}."),
    "cold": ("I recall you said {m}.",),
    "tsundere": (
        "Not that I was keeping track, but you told me {m}.",
        "I just happen to remember that {m}, don't read into it.",
    ),
    "excited": ("Oh, and you told me {m}!", "Hold on, you told me {m}, right?"),
}
_RELATION = {
    "warm": ("your {x}? Tell me more about them.",),
    "neutral": ("your {x}? What happened?",),
    "cold": ("your {x}, huh.",),
    "tsundere": ("your {x}? ...Fine, I'm listening.",),
    "excited": ("your {x}? Tell me everything!",),
}
_EVENT = {
    "warm": ("{x}? I'm really glad you told me.",),
    "neutral": ("{x}? How was it?",),
    "cold": ("{x}. Okay.",),
    "tsundere": ("{x}? ...Not bad, I guess.",),
    "excited": ("{x}? That's amazing!",),
}
_HOSTILE = {
    "warm": ("ouch, that stung a little. Did something happen?",),
    "neutral": ("that's not very kind.",),
    "cold": ("charming.",),
    "tsundere": ("excuse me? Say that again and see what happens.",),
    "excited": ("whoa, okay, where did that come from?",),
}
_AFFECTION = {
    "warm": ("that makes me really happy to hear.",),
    "neutral": ("that's nice of you to say.",),
    "cold": ("noted.",),
    "tsundere": ("w-what? Don't just say things like that.",),
    "excited": ("aww, that made my whole day!",),
}
_MEMORY_QUOTED = 'You told me this once: "{m}".'
_TOPIC_QUESTION = {
    "warm": ("Can I ask, what do you think of {topic}?", "Do you like {topic}?"),
    "neutral": ("Do you know much about {topic}?", "What do you think of {topic}?"),
    "cold": ("Ever tried {topic}?",),
    "tsundere": ("Not that I care, but do you like {topic}?",),
    "excited": ("Oh, and do you like {topic}?", "Have you ever tried {topic}?"),
}
_CLOSE_LINE = {
    "warm": "I like talking with you.",
    "neutral": "It's nice talking with you.",
    "cold": "You're alright.",
    "tsundere": "...I don't hate talking to you.",
    "excited": "I love talking with you!",
}

_REACTIONS = {
    "like": _LIKE,
    "place": _PLACE,
    "job": _JOB,
    "pet": _PET,
    "relation": _RELATION,
    "event": _EVENT,
}
_AFFECTION_RE = _rx(
    r"\bI (?:really |do |kinda )?(?:love|like|miss|adore) (?:you|u)\b"
    r"|\byou(?:'re| are) (?:so |really )?(?:sweet|cute|kind|lovely|amazing|the best)\b"
)
_GREETING_WORDS = frozenset("hi hello hey hiya heya yo howdy morning evening hola".split())
_HOW_ARE_YOU_RE = _rx(
    r"\bhow (?:are|r) (?:you|u)\b|\bhow's it going\b|\bhow are things\b|\bhow have you been\b"
)
_DOING_RE = _rx(r"\bwhat (?:are|r) (?:you|u) (?:doing|up to)\b|\bwhat's up\b")
_NAME_RE = _rx(r"\bwhat(?:'s| is) your name\b|\bwho are you\b")
_AGE_RE = _rx(r"\bhow old are you\b")
_DO_YOU_LIKE_RE = _rx(rf"\bdo you (?:like|love|enjoy) (?P<x>{_P})")
_QUESTION_START = _rx(
    r"^(?:what|why|how|where|when|who|which|do|does|did|are|is|can|could|will|would|have)\b"
)


def _compose_reply(payload: Mapping[str, Any]) -> str:
    persona = payload.get("persona") or {}
    persona = persona if isinstance(persona, Mapping) else {}
    name = _str(persona.get("name"))
    age = persona.get("age")
    topics = [t for t in _list(persona.get("topics")) if isinstance(t, str) and t.strip()]
    style = _str(payload.get("style")).lower()
    style = style if style in _STYLES else "neutral"
    label = _str(payload.get("label")).lower()
    affinity = payload.get("affinity") or {}
    affinity = affinity if isinstance(affinity, Mapping) else {}
    recalled = [r for r in _list(payload.get("recalled")) if isinstance(r, str) and r.strip()]
    user_message = _str(payload.get("user_message"))
    turn = payload.get("turn") if isinstance(payload.get("turn"), int) else 0
    seed = _seed(name, user_message, str(turn))

    def pick(options: Sequence[str], salt: str) -> str:
        return options[_hash_int(seed, salt) % len(options)]

    message = rust_trim(_normalise(user_message))
    topic = pick(topics, "topic") if topics else "books"
    asked = message.endswith("?") or bool(_QUESTION_START.match(message))
    reaction, opener_fits = _reaction(
        message, style, pick, name=name, age=age, topic=topic, turn=turn
    )
    opener = pick(_OPENERS[style], "opener") if opener_fits else ""
    parts = [_join_opener(opener, reaction)]

    if recalled:
        memory, is_clause = _memory_as_you(recalled[0])
        if memory:
            if is_clause:
                parts.append(pick(_MEMORY[style], "memory").format(m=memory))
            else:
                parts.append(_MEMORY_QUOTED.format(m=memory))

    tense = _float(affinity.get("tension")) >= 0.5 or label == "frenemy"
    close = label in {"friend", "romantic"} or (
        _float(affinity.get("warmth")) >= 0.6 and _float(affinity.get("trust")) >= 0.5
    )
    wants_question = topics and not asked and not tense
    wants_question = wants_question and (not recalled or _hash_int(seed, "ask") % 2 == 0)
    if wants_question and _sentences(parts) < 3:
        parts.append(pick(_TOPIC_QUESTION[style], "question").format(topic=topic))
    elif close and not tense and _sentences(parts) < 3:
        parts.append(_CLOSE_LINE[style])
    return clean_response(" ".join(parts))


def _reaction(message: str, style: str, pick: Any, **card: Any) -> tuple[str, bool]:
    """The first sentence(s): an answer to the shape of the message.

    Returns (text, opener_fits). Direct answers and greetings take no opener; the other
    reactions start lowercase (or with a word from the message) so an opener can precede them.
    """
    name, age, topic, turn = card["name"], card["age"], card["topic"], card["turn"]
    if _HOW_ARE_YOU_RE.search(message):
        return pick(_HOW_ARE_YOU[style], "how"), False
    if _NAME_RE.search(message):
        return (f"I'm {name}." if name else "I'd rather you give me a name."), False
    if _AGE_RE.search(message):
        known = isinstance(age, int) and not isinstance(age, bool)
        return (f"I'm {age}." if known else "I'm old enough to know better."), False
    if _DOING_RE.search(message):
        return pick(_DOING[style], "doing").format(topic=topic), False
    like = _DO_YOU_LIKE_RE.search(message)
    if like:
        thing = _clip(like.group("x"), _CONJUNCTIONS, 4)
        if thing:
            thing = _swap_person(thing, _SECOND_PERSON)
            return pick(_DO_YOU_LIKE[style], "like").format(x=thing), True
    words = _WORD.findall(message)
    if words and _bare(words[0]) in _GREETING_WORDS and len(words) <= 4 and "?" not in message:
        greeting = pick(_GREETINGS[style], "greet")
        if turn <= 1 and name:
            greeting += f" I'm {name}."
        return greeting, False
    if message.endswith("?") or _QUESTION_START.match(message):
        return pick(_OTHER_QUESTION[style], "question-shape"), False
    if _sentiment(message)[1]:
        return pick(_HOSTILE[style], "hostile"), False
    if _AFFECTION_RE.search(message):
        return pick(_AFFECTION[style], "affection"), False

    matches = _extract(message)
    for m in matches:
        if m.kind == "feeling":
            feeling = _FEELING_WORD.match(m.value)
            word = feeling.group(0).lower() if feeling else m.value
            table = _FEELING_BAD if word in _NEGATIVE_FEELINGS else _FEELING_GOOD
            return pick(table[style], "feeling").format(f=word), False  # no "Ooh" for pain
    for m in matches:
        if m.kind in _REACTIONS:
            value = _swap_person(m.value, _SECOND_PERSON)
            if m.kind == "job":
                value = _with_article(value)
            elif m.kind == "relation":
                value = m.extra
            elif m.kind == "event":
                value = _as_you_clause(value.split())
            verb = m.extra if m.kind == "like" and m.extra not in ("into", "fan") else "like"
            pet = f"your {m.extra}" if m.kind == "pet" else ""
            template = pick(_REACTIONS[m.kind][style], m.kind)
            return template.format(x=value, verb=verb, pet=pet), True
    key = _key_word(message)
    if key:
        return pick(_ECHO[style], "echo").format(x=key), True
    return pick(_NOTHING_TO_ECHO[style], "nothing"), False


def _as_you_clause(words: list[str]) -> str:
    """A subject-less third-person predicate addressed to the user: "lives…" → "you live…"."""
    first = words[0].lower()
    verb = first if first == "just" or _is_past(first) else _base_verb(first)
    rest = _swap_person(" ".join(words[1:]), _SECOND_PERSON)
    return f"you {verb} {rest}".strip()


def _join_opener(opener: str, reaction: str) -> str:
    """Glue an opener ("Aw, ") to a reaction, fixing the case of the reaction's first letter."""
    if not opener:
        return _capitalise(reaction)
    if opener.rstrip().endswith((".", "!", "?")):
        return opener + _capitalise(reaction)
    return opener + reaction


def _key_word(message: str) -> str:
    """The longest content word of the message (the later one on ties), or ``""``.

    English tends to put the topic last ("a long day at work"), hence the later word.
    """
    best = ""
    for word in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", message):
        if len(word) >= 4 and word.lower() not in _STOPWORDS and len(word) >= len(best):
            best = word
    return best


def _memory_as_you(memory: str) -> tuple[str, bool]:
    """Rephrase a stored memory for the user: ``"Lives in Lisbon"`` → ``"you live in Lisbon"``.

    Returns (text, is_clause): a clause fits "You told me {m}"; anything else is quoted.
    """
    text = rust_trim(_normalise(memory))
    text = _first_sentence(text).rstrip(".!?")
    text = re.sub(r"\s*\(([\w ]+)\)$", r" \1", text)  # "(yesterday)" → "yesterday"
    words = text.split()[:25]
    if not words:
        return "", False
    first = words[0].lower()
    if first in {"i", "i'm", "i've", "i'd", "i'll", "my", "their", "they", "they're"}:
        words = re.sub(r"\bI was\b", "you were", " ".join(words)).split()
        words = _swap_person(" ".join(words), _SECOND_PERSON).split()
        return _lower_first(" ".join(words)), True
    if first == "user" or (first == "the" and len(words) > 1 and words[1].lower() == "user"):
        words = words[1:] if first == "user" else words[2:]
        if not words:
            return "", False
        first = words[0].lower()
    if first == "just" or first in _LEAD_VERBS or _is_past(first):
        return _as_you_clause(words), True
    return _swap_person(" ".join(words), _SECOND_PERSON), False


# Verbs a subject-less memory may start with ("Lives in Lisbon"); a closed list, because a
# plural noun ("Dogs are…") looks the same as a verb.
_LEAD_VERBS = frozenset(
    """
    is has lives works likes loves enjoys adores hates dislikes feels misses wants needs
    prefers plays studies owns keeps goes does doesn't isn't can't can will would speaks reads
    writes watches cooks runs wishes thinks knows believes hopes dreams cares worries lost
    """.split()
)


_ABBREVIATIONS = frozenset("mr mrs ms dr st jr sr prof vs etc e.g i.e".split())
_SENTENCE_END = re.compile(r"[.!?]+\s+(?=[A-Z\"“])")


def _first_sentence(text: str) -> str:
    """Text up to the first sentence end, not fooled by "Dr. Kim" or "St. Louis"."""
    for end in _SENTENCE_END.finditer(text):
        words = text[: end.start()].split()
        if words and words[-1].lower() not in _ABBREVIATIONS:
            return text[: end.start()]
    return text


def _lower_first(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first in {"You", "Your", "You're", "You've", "You'd", "You'll"}:
        return text[:1].lower() + text[1:]
    return text


def _sentences(parts: Sequence[str]) -> int:
    return sum(len(re.findall(r"[.!?]+(?:\s|$)", part)) or 1 for part in parts)


# --------------------------------------------------------------------------------------------
# The provider
# --------------------------------------------------------------------------------------------


def _seed(*parts: str) -> bytes:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).digest()


def _hash_int(seed: bytes, salt: str) -> int:
    digest = hashlib.blake2b(salt.encode("utf-8"), digest_size=8, key=seed).digest()
    return int.from_bytes(digest, "little")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class OfflineChatModel:
    """A :class:`~eros.llm.base.ChatModel` that answers from heuristics, with no network.

    Dispatches on ``request.task`` and reads ``request.payload`` (keys and return shapes in
    the module docstring); ``request.messages`` are ignored. Deterministic: the same payload
    always gives the same text. Raises ``ProviderError(retryable=False)`` for tasks it has
    no answer for.
    """

    name = MODEL_NAME
    #: Answers in-process in microseconds: the turn keeps its database connection meanwhile.
    in_process = True

    def complete(self, request: ChatRequest) -> ChatResult:
        """Answer ``request`` (see the module docstring for payload keys per task)."""
        payload = request.payload or {}
        if request.task == TASK_CHAT:
            text = _compose_reply(payload)
        elif request.task == TASK_INSIGHT:
            text = self._insight(payload)
        elif request.task == TASK_MEMORY:
            text = _json({"memories": self._memories(payload)})
        elif request.task == TASK_AFFINITY:
            text = _json(_evaluate(_str(payload.get("user_message"))))
        else:
            raise ProviderError(
                f"offline provider has no answer for task {request.task}", retryable=False
            )
        return ChatResult(text=text, model=MODEL_NAME)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """The text of :meth:`complete` in pieces; raises like :meth:`complete`.

        ``chat_companion`` replies come word by word, each word with the whitespace after it,
        so the pieces join to the exact reply; the JSON tasks come as one piece.
        """
        text = self.complete(request).text
        if request.task != TASK_CHAT:
            yield text
            return
        yield from re.findall(r"\S+\s*", text)

    @staticmethod
    def _insight(payload: Mapping[str, Any]) -> str:
        step = payload.get("step")
        if step == "facts":
            facts = [_fact_text(m) for m in _extract(_str(payload.get("user_message")))]
            return _json({"facts": list(dict.fromkeys(f for f in facts if f))})
        if step == "structure":
            existing = payload.get("existing")
            existing = existing if isinstance(existing, Mapping) else {}
            return _json(_structure(_list(payload.get("facts")), existing))
        raise ProviderError(
            f"offline provider has no answer for task {TASK_INSIGHT} step {step!r}",
            retryable=False,
        )

    @staticmethod
    def _memories(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
        memories: dict[str, dict[str, Any]] = {}
        for message in _list(payload.get("messages")):
            if not isinstance(message, Mapping) or message.get("role") != "user":
                continue
            message_id = str(message.get("id", ""))
            for match in _extract(_str(message.get("content"))):
                memory = _memory_of(match)
                if memory is None:
                    continue
                content, category = memory
                key = content.casefold()
                if key in memories:
                    sources = memories[key]["source_message_ids"]
                    if message_id not in sources:
                        sources.append(message_id)
                elif len(memories) < MAX_MEMORIES:
                    memories[key] = {
                        "content": content,
                        "category": category,
                        "source_message_ids": [message_id],
                    }
        return list(memories.values())
