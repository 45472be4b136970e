"""English phrase helpers shared by the offline model's extraction, evaluation and composer.

Small and literal on purpose: pronoun swaps (``my`` → ``their`` / ``your``), verb agreement
(``love`` → ``loves``), clipping a phrase at the first conjunction, and the word lists they
need. Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# A phrase ends at the first of these words ("I love hiking because…" → "hiking").
CONJUNCTIONS = frozenset(
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

_IRREGULAR_PAST = frozenset(
    """
    went got had made met saw took bought ate ran won lost left came found gave told felt heard
    began broke caught drove fell flew forgot kept knew paid sold sent spent thought wrote
    became brought built chose did drank quit slept spoke stood swam taught threw understood
    woke wore turned dyed held hung led lit rode rang sang sat shot shut stole struck swore
    tore grew drew threw blew bit hid fed dug shook froze rose sank sprang stung swung wept
    bent bled bred clung crept dealt fled flung forbade forgave fought ground knelt laid lent
    meant overcame rode rang shone shrank slid spun split spread stank stuck sought strove
    taught underwent undertook withdrew won wound
    said arose awoke bore burnt dreamt leapt learnt smelt spelt spilt swept
    """.split()
)
_NOT_PAST = frozenset("need feed bleed seed speed proceed succeed exceed breed weed shed".split())

#: Adverbs that can stand between a subject and its verb ("I never learned", "I still run").
ADVERBS = frozenset(
    "never always still usually often sometimes only even already rarely finally actually also "
    "just really probably definitely honestly totally literally basically seriously".split()
)

MODALS = frozenset("can could will would should must might may can't won't".split())

STOPWORDS = frozenset(
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

# A word; not the letters of "4am" or "3pm", which are no pronoun or verb.
WORD = re.compile(r"(?<![0-9])[A-Za-z]+(?:'[A-Za-z]+)?")


def normalise(text: str) -> str:
    """Straighten curly apostrophes so one set of patterns covers both."""
    return text.replace("\u2019", "'").replace("\u2018", "'")


def bare(word: str) -> str:
    """``word`` lower-cased, without surrounding quotes, brackets or markdown marks."""
    return word.lower().strip("'\"()[]*_")


def clip(phrase: str, stops: frozenset[str] | set[str], max_words: int) -> str:
    """The start of ``phrase``: up to ``max_words`` words, ending before any word in ``stops``."""
    kept: list[str] = []
    for word in phrase.split():
        if bare(word) in stops:
            break
        kept.append(word)
        if len(kept) == max_words:
            break
    while kept and (bare(kept[-1]) in _DANGLING or bare(kept[-1]) in _TAIL_FILLERS):
        kept.pop()
    return " ".join(kept).strip("'\"()[]*_-–— ")


THIRD_PERSON = {
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
SECOND_PERSON = {
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


_FIRST_PERSON_SINGULAR = frozenset("i i'm i've i'll i'd".split())


def swap_person(text: str, table: Mapping[str, str]) -> str:
    """Replace pronouns word by word (``my`` → ``their``), keeping a capital initial."""

    def swap(match: re.Match[str]) -> str:
        word = match.group(0)
        new = table.get(word.lower())
        if new is None:
            return word
        if len(word) > 1 and word.isupper() and word.lower() not in _FIRST_PERSON_SINGULAR:
            return new.upper()  # "PASSED MY TEST" → "PASSED THEIR TEST"
        # "I" and its contractions are capitalised anywhere, not only where a sentence starts.
        keep_case = word[0].isupper() and word.lower() not in _FIRST_PERSON_SINGULAR
        return new[0].upper() + new[1:] if keep_case else new

    return WORD.sub(swap, text)


def is_past(word: str) -> bool:
    """Whether ``word`` reads as a simple past ("went", "moved"; not "need")."""
    word = word.lower()
    return word in _IRREGULAR_PAST or (
        len(word) > 3 and word.endswith("ed") and word not in _NOT_PAST
    )


def third_person_verb(verb: str) -> str:
    """``love`` → ``loves``; past tenses, modals and negated auxiliaries stay as they are."""
    low = verb.lower()
    special = {"have": "has", "do": "does", "go": "goes", "am": "is", "'m": "is", "are": "is"}
    special |= {"be": "is", "don't": "doesn't", "can't": "can't", "haven't": "hasn't"}
    special |= {"was": "was", "were": "was", "wasn't": "wasn't", "weren't": "wasn't"}
    if low in special:
        return special[low]
    if low in ADVERBS:
        return low  # "I never learned" → "never learned": the verb is the next word
    if is_past(low) or low in MODALS or low.endswith("n't"):
        return low
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return low + "es"
    if len(low) > 1 and low.endswith("y") and low[-2] not in "aeiou":
        return low[:-1] + "ies"
    return low + "s"


def base_verb(verb: str) -> str:
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


def capitalise(text: str) -> str:
    """``text`` with its first character upper-cased (the rest untouched)."""
    return text[:1].upper() + text[1:]


def with_article(noun_phrase: str) -> str:
    """``"nurse"`` → ``"a nurse"``, ``"engineer"`` → ``"an engineer"`` (by first letter)."""
    return ("an " if noun_phrase[:1].lower() in "aeiou" else "a ") + noun_phrase


PHRASE = r"[^.,!?;:\n]+"  # a phrase: runs to the next punctuation mark


def rx(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled case-insensitively."""
    return re.compile(pattern, re.IGNORECASE)
