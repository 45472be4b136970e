"""The ``chat_companion`` reply of the offline model, composed from the turn's facts.

It reads the :class:`~eros.llm.base.TurnContext` (persona card, reply style, relationship
label, affinity, recalled memories, the user's message), never the prompt prose. It never
pretends to understand: a reply is a template reaction to the shape of the message, at most
one recalled memory, and perhaps a question about one of the persona's topics. Choosing the
memory is this module's business (:func:`memories_to_mention`): the pipeline hands over
everything it recalled, as it does to a real model in the prompt.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from eros.llm.base import LAYER_PROFILE, PersonaCard, RecalledMemory, TurnContext
from eros.llm.cleaning import clean_response, rust_trim
from eros.llm.offline.evaluation import sentiment
from eros.llm.offline.extraction import FEELING_WORD, extract
from eros.llm.offline.templates import (
    ABOUT_ME,
    AFFECTION,
    ARE_YOU_AI,
    ASK_BACK,
    CLOSE_LINE,
    DO_YOU_LIKE,
    DOING,
    ECHO,
    FEELING_BAD,
    FEELING_GOOD,
    GREETINGS,
    HOSTILE,
    HOW_ARE_YOU,
    MEMORY,
    MEMORY_QUOTED,
    NOTHING_TO_ECHO,
    OPENERS,
    OTHER_QUESTION,
    REACTIONS,
    STYLES,
    TOPIC_QUESTION,
)
from eros.llm.offline.text import (
    CONJUNCTIONS,
    PHRASE,
    SECOND_PERSON,
    STOPWORDS,
    WORD,
    bare,
    base_verb,
    capitalise,
    clip,
    is_past,
    normalise,
    rx,
    swap_person,
    with_article,
)

#: Cosine similarity a recalled memory needs before the composer brings it up. Below it a
#: memory shares a word or two with the message but not its meaning, and a callback to it
#: reads as a non sequitur (a model reading the prompt makes the same judgement itself).
MENTION_SIMILARITY_FLOOR = 0.2


def memories_to_mention(recalled: Sequence[RecalledMemory]) -> list[str]:
    """The contents of the recalled memories that bear on the message, best first.

    Keeps memories with ``similarity >= MENTION_SIMILARITY_FLOOR`` and non-blank content
    that is not a question (an exchange row ``"User: …\n<persona>: …"`` is judged by the
    user's line): a question the user asked is not something they told, and must never come
    back as "You told me …". Orders the user's own words (profile layer) before shared
    moments (relationship layer), most similar first within each, recall order on ties. The
    composer weaves in the first.
    """
    relevant = [
        m
        for m in recalled
        if m.similarity >= MENTION_SIMILARITY_FLOOR
        and m.content.strip()
        and not _is_question(_said(m.content))
    ]
    relevant.sort(key=lambda m: (m.layer != LAYER_PROFILE, -m.similarity))
    return [m.content for m in relevant]


# Feelings that get sympathy rather than cheer ("sorry you're feeling tired").
_NEGATIVE_FEELINGS = frozenset(
    "stressed out|burned out|burnt out|tired|exhausted|sad|anxious|stressed|lonely|nervous|"
    "worried|angry|upset|bored|depressed|overwhelmed|frustrated|scared|afraid|homesick|"
    "heartbroken|sick|miserable|annoyed|jealous|confused|hurt".split("|")
)

# The shapes of message that get a reaction of their own, before anything is echoed.
_AFFECTION_RE = rx(
    r"\bI (?:really |do |kinda )?(?:love|like|miss|adore) (?:you|u)\b"
    r"|\byou(?:'re| are) (?:so |really )?(?:sweet|cute|kind|lovely|amazing|the best)\b"
)
_GREETING_WORDS = frozenset("hi hello hey hiya heya yo howdy morning evening hola".split())
_HOW_ARE_YOU_RE = rx(
    r"\bhow (?:are|r) (?:you|u)\b|\bhow's it going\b|\bhow are things\b|\bhow have you been\b"
)
_DOING_RE = rx(r"\bwhat (?:are|r) (?:you|u) (?:doing|up to)\b|\bwhat's up\b")
_NAME_RE = rx(r"\bwhat(?:'s| is) your name\b|\bwho are you\b")
_AGE_RE = rx(r"\bhow old are you\b")
_DO_YOU_LIKE_RE = rx(rf"\bdo you (?:like|love|enjoy) (?P<x>{PHRASE})")
# "Are you an AI?" and its close variants get an honest answer before anything else.
_ARE_YOU_AI_RE = rx(
    r"\b(?:are|r) (?:you|u) (?:really |actually |even |just )?(?:an? )?(?:real )?"
    r"(?:ai|a\.i\.|bot|chat ?bot|robot|real|human|person|people|program|machine|computer|"
    r"language model|llm|alive)\b"
    r"|\b(?:am i|i'm|im) (?:talking|chatting|speaking) (?:to|with) (?:an? )?(?:real )?"
    r"(?:ai|bot|chat ?bot|robot|human|person|program|machine|computer)\b"
    r"|\bis (?:this|that) (?:an? )?(?:ai|bot|chat ?bot|robot|program|real person|human)\b"
    r"|\byou(?:'re| are) (?:an? |just an? )?(?:ai|bot|chat ?bot|robot|program)\s*\?"
)
# A question about the persona ("what do you like?"), as against one about the user.
_ABOUT_YOU_RE = rx(r"\b(?:you|your|yours|yourself|u|ur)\b")
_ABOUT_ME_RE = rx(r"\b(?:i|i'm|i've|my|me|myself|mine)\b")
_TELL_ME_RE = rx(r"\b(?:tell|show|give|teach) me\b")
_STORY_RE = rx(
    r"\bwhere (?:are|r) (?:you|u) from\b|\byourself\b|\bgrow(?:n)? up\b|\bgrew up\b"
    r"|\byour (?:story|past|life|background|job|work)\b|\bwhat do you do\b"
)
_LIKES_RE = rx(r"\b(?:like|love|enjoy|favou?rite|hobby|hobbies|into|for fun)\b")
_QUESTION_START = rx(
    r"^(?:what|why|how|where|when|who|which|do|does|did|are|is|can|could|will|would|have)\b"
)


def compose_reply(turn: TurnContext) -> str:
    """A short in-character reply to ``turn.user_message``: one to three English sentences.

    A reaction to the shape of the message (a direct answer, a greeting, sympathy, an echo of
    what the user shared), then the best memory from :func:`memories_to_mention` rephrased
    for the user, then a question about one of the persona's topics or a closeness line,
    unless the mood is tense. Wording follows ``turn.reply_style`` (unknown styles read as
    ``neutral``). Deterministic: the same turn always gets the same reply; the choices
    between alternatives vary with the persona's name, the message, ``message_count`` and
    ``variation`` (a regenerated reply also may ask back when the user asked). Passed through
    ``clean_response``.
    """
    persona = turn.persona
    name = persona.name
    topics = [t for t in persona.topics if t.strip()]
    style = turn.reply_style.lower()
    style = style if style in STYLES else "neutral"
    label = turn.relationship_label.lower()
    affinity = turn.affinity
    recalled = memories_to_mention(turn.recalled)
    count = turn.message_count
    variation = turn.variation
    seed = _seed(name, turn.user_message, str(count), *([str(variation)] if variation else []))

    def pick(options: Sequence[str], salt: str) -> str:
        return options[_hash_int(seed, salt) % len(options)]

    message = rust_trim(normalise(turn.user_message))
    topic = pick(topics, "topic") if topics else "books"
    asked = message.endswith("?") or bool(_QUESTION_START.match(message))
    reaction, opener_fits = _reaction(
        message,
        style,
        pick,
        name=name,
        age=persona.age,
        topic=topic,
        turn=count,
        persona=persona,
        user_name=turn.user_name,
    )
    opener = pick(OPENERS[style], "opener") if opener_fits else ""
    parts = [_join_opener(opener, reaction)]

    if recalled:
        memory, is_clause = _memory_as_you(recalled[0])
        if memory:
            if is_clause:
                parts.append(pick(MEMORY[style], "memory").format(m=memory))
            else:
                parts.append(MEMORY_QUOTED.format(m=memory))

    tense = affinity.get("tension", 0.0) >= 0.5 or label == "frenemy"
    close = label in {"friend", "romantic"} or (
        affinity.get("warmth", 0.0) >= 0.6 and affinity.get("trust", 0.0) >= 0.5
    )
    # A regenerated reply (variation) may ask back even when asked, so that it reads anew.
    wants_question = topics and (not asked or variation) and not tense
    wants_question = wants_question and (not recalled or _hash_int(seed, "ask") % 2 == 0)
    if wants_question and _sentences(parts) < 3:
        parts.append(pick(TOPIC_QUESTION[style], "question").format(topic=topic))
    elif close and not tense and _sentences(parts) < 3:
        parts.append(CLOSE_LINE[style])
    return clean_response(" ".join(parts))


def _reaction(message: str, style: str, pick: Any, **card: Any) -> tuple[str, bool]:
    """The first sentence(s): an answer to the shape of the message.

    Returns (text, opener_fits). Direct answers and greetings take no opener; the other
    reactions start lowercase (or with a word from the message) so an opener can precede them.
    """
    name, age, topic, turn = card["name"], card["age"], card["topic"], card["turn"]
    if _ARE_YOU_AI_RE.search(message):
        # Every persona prompt says to answer this honestly; so does the offline model.
        return pick(ARE_YOU_AI[style], "ai").format(name=name or "your companion"), False
    if _HOW_ARE_YOU_RE.search(message):
        return pick(HOW_ARE_YOU[style], "how"), False
    if _NAME_RE.search(message):
        return (f"I'm {name}." if name else "I'd rather you give me a name."), False
    if _AGE_RE.search(message):
        return (f"I'm {age}." if age is not None else "I'm old enough to know better."), False
    if _DOING_RE.search(message):
        return pick(DOING[style], "doing").format(topic=topic), False
    like = _DO_YOU_LIKE_RE.search(message)
    if like:
        thing = clip(like.group("x"), CONJUNCTIONS, 4)
        if thing and not thing.lower().startswith("to "):  # "do you like to…" asks about her
            thing = swap_person(thing, SECOND_PERSON)
            return pick(DO_YOU_LIKE[style], "like").format(x=thing), True
    words = WORD.findall(message)
    if words and bare(words[0]) in _GREETING_WORDS and len(words) <= 5 and "?" not in message:
        greeting = pick(GREETINGS[style], "greet")
        # Say their name back: the one they give now ("hi, I'm Sam") or the one she knows.
        introduced = next((m.value for m in extract(message) if m.kind == "name"), None)
        user = introduced or card.get("user_name")
        if user:
            greeting = f"{greeting.rstrip('.!')}, {user}{'!' if greeting.endswith('!') else '.'}"
        if turn <= 1 and name:
            greeting += f" I'm {name}."
        return greeting, False
    if message.endswith("?") or _QUESTION_START.match(message):
        return _answer(message, style, pick, card["persona"], topic), False
    if sentiment(message)[1]:
        return pick(HOSTILE[style], "hostile"), False
    if _AFFECTION_RE.search(message):
        return pick(AFFECTION[style], "affection"), False

    matches = extract(message)
    for m in matches:
        if m.kind == "feeling":
            feeling = FEELING_WORD.match(m.value)
            word = feeling.group(0).lower() if feeling else m.value
            table = FEELING_BAD if word in _NEGATIVE_FEELINGS else FEELING_GOOD
            return pick(table[style], "feeling").format(f=word), False  # no "Ooh" for pain
    for m in matches:
        if m.kind in REACTIONS:
            value = swap_person(m.value, SECOND_PERSON)
            if m.kind == "job":
                value = with_article(value)
            elif m.kind == "relation":
                value = m.extra
            elif m.kind == "event":
                value = _as_you_clause(value.split())
            verb = m.extra if m.kind == "like" and m.extra not in ("into", "fan") else "like"
            pet = f"your {m.extra}" if m.kind == "pet" else ""
            template = pick(REACTIONS[m.kind][style], m.kind)
            return template.format(x=value, verb=verb, pet=pet), True
    key = _key_word(message)
    if key:
        return pick(ECHO[style], "echo").format(x=key), True
    return pick(NOTHING_TO_ECHO[style], "nothing"), False


def _answer(message: str, style: str, pick: Any, persona: PersonaCard, topic: str) -> str:
    """A question's answer: about her from the persona card, about the user turned back.

    A question with "you"/"your" in it and no "I"/"my" is about her: she answers with one
    thing from her card (a quirk, her backstory or her topics, as a first-person clause).
    A question about the user is turned back with interest; any other gets a varied line.
    """
    about_user = _ABOUT_ME_RE.search(_TELL_ME_RE.sub("", message))
    if _ABOUT_YOU_RE.search(message) and not about_user:
        facts = _card_facts(persona, topic)
        if _LIKES_RE.search(message):
            facts = [f for f in facts if f.startswith(_TOPIC_FACTS)] or facts
        elif _STORY_RE.search(message):
            # "Where are you from?": her story, when the card has one to tell.
            facts = facts[-1:]
        if facts:
            fact = pick(facts, "fact")
            return pick(ABOUT_ME[style], "about-me").format(fact=fact)
    if about_user:
        return pick(ASK_BACK[style], "ask-back")
    return pick(OTHER_QUESTION[style], "question-shape").format(topic=topic)


def _card_facts(persona: PersonaCard, topic: str) -> list[str]:
    """First-person clauses about the persona, from her card ("I keep track of tides…")."""
    facts = []
    topics = [t for t in persona.topics if t.strip()]
    if topics:
        facts.append(f"{_TOPIC_FACTS[0]} {topic}")
        if len(topics) > 1:
            other = next(t for t in topics if t != topic) if topic in topics else topics[0]
            facts.append(f"{_TOPIC_FACTS[1]} {topic} and {other}")
    for quirk in persona.quirks:
        words = quirk.split()
        # Only a plain predicate ("keeps track of tides"); one that names her again ("…she
        # remembers") would need its verbs changed too.
        third = {"he", "she", "they", "he's", "she's"}
        if words and words[0].lower().endswith("s") and not third & {w.lower() for w in words}:
            facts.append(_first_person(words))
    # Her story is the last fact: the one "where are you from?" picks.
    story = clip(_first_sentence(rust_trim(normalise(persona.backstory))), CONJUNCTIONS, 12)
    words = story.split()
    if words and (is_past(words[0]) or words[0].lower() in _STORY_VERBS):
        facts.append(_first_person(words))
    return facts


_TOPIC_FACTS = ("I'm really into", "I spend a lot of time on")
_STORY_VERBS = frozenset("grew was spent moved trained studied worked lived".split())


def _first_person(words: list[str]) -> str:
    """A subject-less third-person predicate as hers: "keeps his…" → "I keep my…"."""
    first = words[0].lower()
    verb = first if is_past(first) else base_verb(first)
    rest = swap_person(" ".join(words[1:]), _THIRD_TO_FIRST)
    return f"I {verb} {rest}".strip()


_THIRD_TO_FIRST = {
    "his": "my",
    "her": "my",
    "hers": "mine",
    "him": "me",
    "himself": "myself",
    "herself": "myself",
    "their": "my",
    "them": "me",
    "themselves": "myself",
    "he": "I",
    "she": "I",
}


def _as_you_clause(words: list[str]) -> str:
    """A subject-less third-person predicate addressed to the user: "lives…" → "you live…"."""
    first = words[0].lower()
    verb = first if first == "just" or is_past(first) else base_verb(first)
    rest = swap_person(" ".join(words[1:]), SECOND_PERSON)
    return f"you {verb} {rest}".strip()


def _join_opener(opener: str, reaction: str) -> str:
    """Glue an opener ("Aw, ") to a reaction, fixing the case of the reaction's first letter."""
    if not opener:
        return capitalise(reaction)
    if opener.rstrip().endswith((".", "!", "?")):
        return opener + capitalise(reaction)
    return opener + reaction


def _key_word(message: str) -> str:
    """The longest content word of the message (the later one on ties), or ``""``.

    English tends to put the topic last ("a long day at work"), hence the later word.
    """
    best = ""
    for word in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", message):
        if len(word) >= 4 and word.lower() not in STOPWORDS and len(word) >= len(best):
            best = word
    return best


def _memory_as_you(memory: str) -> tuple[str, bool]:
    """Rephrase a stored memory for the user: ``"Lives in Lisbon"`` → ``"you live in Lisbon"``.

    Returns (text, is_clause): a clause fits "You told me {m}"; anything else is quoted.
    """
    text = rust_trim(normalise(_said(memory)))
    text = _SHARED.sub("", text)  # a moment: "Shared: feels nervous…" → "feels nervous…"
    if _is_question(text):
        return "", False
    text = _first_sentence(text).rstrip(".!?")
    text = re.sub(r"\s*\(([\w ]+)\)$", r" \1", text)  # "(yesterday)" → "yesterday"
    words = text.split()[:25]
    if not words:
        return "", False
    first = words[0].lower()
    if first in {"i", "i'm", "i've", "i'd", "i'll", "my", "their", "they", "they're"}:
        words = re.sub(r"\bI was\b", "you were", " ".join(words)).split()
        words = swap_person(" ".join(words), SECOND_PERSON).split()
        return _lower_first(" ".join(words)), True
    if first == "user" or (first == "the" and len(words) > 1 and words[1].lower() == "user"):
        words = words[1:] if first == "user" else words[2:]
        if not words:
            return "", False
        first = words[0].lower()
    if first == "just" or first in _LEAD_VERBS or is_past(first):
        return _as_you_clause(words), True
    return swap_person(" ".join(words), SECOND_PERSON), False


# Verbs a subject-less memory may start with ("Lives in Lisbon"); a closed list, because a
# plural noun ("Dogs are…") looks the same as a verb.
_LEAD_VERBS = frozenset(
    """
    is has lives works likes loves enjoys adores hates dislikes feels misses wants needs
    prefers plays studies owns keeps goes does doesn't isn't can't can will would speaks reads
    writes watches cooks runs wishes thinks knows believes hopes dreams cares worries lost
    teaches takes walks carries sleeps eats drinks grew
    """.split()
)


_ABBREVIATIONS = frozenset("mr mrs ms dr st jr sr prof vs etc e.g i.e".split())
_SENTENCE_END = re.compile(r"[.!?]+\s+(?=[A-Z\"“])")


_SHARED = re.compile(r"^Shared(?: with [^:\n]{1,40})?:\s*", re.IGNORECASE)
_EXCHANGE_USER_LINE = re.compile(r"^User:\s*(?P<said>[^\n]*)")


def _said(memory: str) -> str:
    """What the user said in a memory: the ``User:`` line of an exchange row, else all of it."""
    line = _EXCHANGE_USER_LINE.match(memory.strip())
    return line.group("said").strip() if line else memory


def _is_question(text: str) -> bool:
    """Whether a memory reads as a question: a question mark, or "what/why/how…" first.

    Looser than a message's test: a stored fact may start "Is 29 years old", "Has a dog".
    """
    text = rust_trim(normalise(text))
    return "?" in text or bool(_WH_START.match(text))


_WH_START = rx(r"^(?:what|why|how|where|who|which)\b")


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


def _seed(*parts: str) -> bytes:
    """A 16-byte key from ``parts``: every choice in one reply derives from it."""
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).digest()


def _hash_int(seed: bytes, salt: str) -> int:
    """A stable integer for one choice (``salt``) of the reply keyed by ``seed``."""
    digest = hashlib.blake2b(salt.encode("utf-8"), digest_size=8, key=seed).digest()
    return int.from_bytes(digest, "little")
