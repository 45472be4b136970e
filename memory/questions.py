"""Which slots a question asks about, read with transparent English rules.

Recall ranks the memories whose slot a question asks about (``memory.slots``: ``city``,
``occupation``, ``pet:dog``…) first within their list, after pinned rows (``memory.selectors``
module docstring, "Asked"): "What do I do for a living?" shares no word with "Works as a
paramedic" and, with an embedder that has no semantics, no meaning either, yet the occupation
slot is its answer.

Only the question sentences of a text ask anything: a sentence ending in ``?``, or starting
(at the text's start or after a comma) with a question word ("what", "where", "how", "do",
"am", "is"…), "remind me" or "tell me". "I hate my job" asks nothing. The rules read each
question sentence lower-cased, with straight apostrophes and without punctuation, and ask
about the user in the first person: "what's your name" and "where does my dad live" ask
nothing.

``occupation``, ``workplace`` (always both)
    "my / our job, work, career, profession, occupation, employer, workplace, line of work,
    role at work" (one modifier such as "new" or "current" may come between); "I do for a
    living / for work / for money"; "what do I do" ending the sentence, optionally with "now",
    "these days", "again"… ("what do I do on Wednesdays" is a routine, not a job); "I work",
    "I'm working", "employed", "unemployed", "retired" (not "work out", "work on"); "job",
    "career", "profession", "occupation" or "employer" anywhere in a question whose subject is
    "I" or "we".
``city``
    "I live / I'm living / staying / based / located / reside", not followed by "with" ("who do
    I live with" asks about people); "which / what city, town, village, country do (am, did…)
    I"; "my city, town, home, address" (not "home town": where one grew up is another fact);
    "where's home"; "where did I move".
``name``
    "my name / first name / full name / nickname…"; "am I called"; "what … call me"; "do I go
    by".
``age``
    "how old" with "I" or "me" within the next three words ("how old am I", "how old will I
    be"); "my age"; "what age am I".
``relationship_status``
    "my boyfriend, girlfriend, partner, husband, wife, fiancé(e), spouse, ex, love life"
    (another word between, as in "my dance partner", makes it someone else); "my relationship"
    (not "with" a relative or friend); "relationship status"; "am I single / married / engaged
    / divorced / dating / seeing someone / in a relationship / together", "did we get
    married"; "did we break up"; "have I got a girlfriend…"; "who am I seeing".
``pet:<species>``
    A pet word of :data:`~eros.llm.offline.extraction.PET_SPECIES` or its plural ("my kitten"
    → ``pet:cat``, "my bunnies" → ``pet:rabbit``) in a question that mentions the user, unless
    its nearest owner is someone else ("my sister's cat", "their dog"). "Early bird" and "hot
    dog" are no pets.
``pet:`` (a prefix: every pet slot)
    "pet" or "pets" ("what pets do we have"; not "pet peeve", "pet name"), "my / our animals".
``name:<thing>``
    "what's my / our / the <thing> called / named", "my <thing>'s name", "the name of my
    <thing>", "what did I name / call my <thing>"; ``<thing>`` is its last word as written ("my
    kids' names" → ``name:kids``, as the slot rules file "calling their kids …"). A pet's name
    is its species' slot instead ("what's our dog called" → ``pet:dog``): the slot rules file
    a pet's name there, never under ``name:``.

A key ending in ``:`` (:data:`PREFIX`) is a prefix: it asks for every slot starting with it.
Each key comes once: the fixed keys in the order above, then the pet and named-thing keys in
the order the question names them. A question about nothing the rules know returns
``()``, and recall then ranks as it always did. Concerns (``concern:<word>``) are never asked
for: their subject words are the user's own and cannot be listed here.

English only, like the slot rules: a question in another language asks for nothing, which only
means recall ranks it by score alone.
"""

from __future__ import annotations

import re
import unicodedata

from eros.llm.offline.extraction import PET_SPECIES

#: A key ending in this is a prefix of slot keys (``pet:`` asks for every pet slot).
PREFIX = ":"
#: The prefix of the pet slots (``pet:<species>``).
PET = "pet:"
#: The prefix of named things' slots (``name:<thing>``).
NAMED = "name:"

WORK = ("occupation", "workplace")
CITY = ("city",)
NAME = ("name",)
AGE = ("age",)
RELATIONSHIP = ("relationship_status",)
_ORDER = {key: i for i, key in enumerate((*WORK, *CITY, *NAME, *AGE, *RELATIONSHIP))}

# A sentence with the punctuation that ends it.
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_OPENERS = (
    r"what|what's|whats|where|where's|wheres|who|who's|whos|whose|which|how|how's|hows|when|"
    r"when's|why|do|does|did|am|is|are|was|were|have|has|can|could|would|will|should|"
    r"remind me|tell me"
)
_QUESTION_START = re.compile(rf"(?:^|,) ?(?:{_OPENERS})\b")
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|i'd|me|my|mine|myself|we|we're|our|ours|us)\b")
_SUBJECT_I = re.compile(r"\b(?:i|i'm|im|we|we're)\b")
_JOB_WORDS = re.compile(r"\b(?:jobs?|careers?|profession|occupation|employer)\b")

_PARTNERS = (
    r"boyfriend|girlfriend|partner|husband|wife|fiancé|fiancée|fiance|fiancee|spouse|bf|gf|"
    r"other half|significant other"
)
_RELATIVES = (
    r"mum|mom|mother|dad|father|parents|sister|brother|siblings?|son|daughter|kids|children|"
    r"family|friends?|boss|colleagues?|coworkers?|grandma|grandmother|grandpa|grandfather|"
    r"aunt|uncle|cousin|in-laws"
)
_ADVERB = r"(?:still |currently |now |actually |ever |even )?"

_RULES: list[tuple[tuple[str, ...], re.Pattern[str]]] = [
    (
        WORK,
        re.compile(
            r"\b(?:my|our) (?:(?:new|current|old|first|day|actual|real|main|full-time|part-time) )?"
            r"(?:jobs?|work|career|profession|occupation|employer|workplace|line of work|"
            r"role at work)\b"
        ),
    ),
    (WORK, re.compile(rf"\b(?:i|we) {_ADVERB}(?:do|did) for (?:a )?(?:living|work|money)\b")),
    (
        WORK,
        re.compile(
            r"\bwhat (?:do|does) (?:i|we) (?:actually )?do"
            r"(?: (?:now|these days|nowadays|again|exactly|anymore|any more|then))*$"
        ),
    ),
    (
        WORK,
        re.compile(
            rf"\b(?:i|we)(?:'m|'re| am| are)? {_ADVERB}"
            r"(?:work|working|employed|unemployed|retired)\b(?! (?:out|on)\b)"
        ),
    ),
    (
        CITY,
        re.compile(
            rf"\b(?:i|we)(?:'m|'re| am| are)? {_ADVERB}"
            r"(?:live|living|stay|staying|reside|residing|based|located)\b(?! with\b)"
        ),
    ),
    (
        CITY,
        re.compile(
            r"\b(?:which|what) (?:city|town|village|country) "
            r"(?:do|did|am|are|have|was|were) (?:i|we)\b"
        ),
    ),
    (CITY, re.compile(r"\b(?:my|our) (?:current |new )?(?:city|town|home|address)\b(?! town\b)")),
    (CITY, re.compile(r"\bwhere(?:'s| is| was)? (?:my |our )?home\b")),
    (CITY, re.compile(r"\bwhere (?:did|have|do) (?:i|we) (?:just |recently )?(?:move|moved)\b")),
    (
        NAME,
        re.compile(
            r"\bmy (?:(?:first|full|real|last|preferred|proper|actual) )?(?:name|nickname)\b"
        ),
    ),
    (NAME, re.compile(r"\b(?:am i|i'm|i am) called\b|\bwhat (?:\w+ ){0,3}call me\b")),
    (NAME, re.compile(r"\bdo i go by\b")),
    (AGE, re.compile(r"\bhow old(?: \w+){0,2} (?:i|i'm|me)\b")),
    (AGE, re.compile(r"\b(?:my|our) age\b|\bwhat age (?:am i|i am|i'm)\b")),
    (
        RELATIONSHIP,
        re.compile(
            rf"\b(?:my|our) (?:(?:new|current|future|ex|former) )?(?:{_PARTNERS}|ex|love life|"
            r"dating life)\b"
        ),
    ),
    (
        RELATIONSHIP,
        re.compile(
            rf"\b(?:my|our) relationship\b(?! with (?:my |our )?(?:{_RELATIVES})\b)"
            r"|\brelationship status\b"
        ),
    ),
    (
        RELATIONSHIP,
        re.compile(
            rf"\b(?:i|we)(?:'m|'re| am| are)? {_ADVERB}(?:get |got |getting )?"
            r"(?:single|married|engaged|divorced|separated|dating|"
            r"seeing (?:someone|anyone|somebody|anybody)|in a relationship|together)\b"
        ),
    ),
    (RELATIONSHIP, re.compile(r"\b(?:i|we) (?:\w+ )?(?:broke|break|split) up\b")),
    (RELATIONSHIP, re.compile(rf"\b(?:have|got) (?:a |an )?(?:{_PARTNERS})\b")),
    (RELATIONSHIP, re.compile(r"\bwho (?:am i|i'm|i am) (?:seeing|going out with)\b")),
]


def _plurals(word: str) -> set[str]:
    """``word`` and its plurals ("bunny" → "bunnies", "guinea pig" → "guinea pigs")."""
    head, _, last = word.rpartition(" ")
    forms = {last, last + "s", last + "es"}
    if last.endswith("y") and last[-2:-1] not in ("a", "e", "o", "u"):
        forms.add(last[:-1] + "ies")
    if last == "mouse":
        forms.add("mice")
    return {f"{head} {form}" if head else form for form in forms}


# Pet word (singular or plural) → species; longest first, so "guinea pigs" wins over "pigs".
_PET_FORMS = {form: species for word, species in PET_SPECIES.items() for form in _plurals(word)}
_PET_WORD = re.compile(
    r"(?<!early )(?<!hot )\b(?P<w>"
    + "|".join(re.escape(w) for w in sorted(_PET_FORMS, key=len, reverse=True))
    + r")\b"
)
_PETS_ANY = re.compile(
    r"\bpets?\b(?! (?:peeves?|names?|projects?|hates?|subjects?|theory)\b)|\b(?:my|our) animals\b"
)
# The nearest owner named before a word, at most two words before it (".*" is greedy: the
# last one wins): "what's my sister's " → "sister's".
_OWNER = re.compile(
    r".*\b(?P<own>my|our|your|his|her|their|its|[a-z-]+'s|[a-z-]+s') (?:[\w-]+ ){0,2}$"
)
# "what's", "who's"… are a verb, not an owner.
_CONTRACTIONS = frozenset(
    "what's who's where's how's when's why's that's it's there's here's he's she's let's".split()
)

_WORD = r"[^\W\d_]+(?:-[^\W\d_]+)*"
_THING = rf"(?P<p>(?:{_WORD} ){{0,2}}?(?P<s>{_WORD}))"
_TAIL = r"(?: again| originally| in the end| at first| back then| after all| now)?$"
_NAMING_RULES = [
    re.compile(rf"\b(?:my|our|the) {_THING}(?:'s|')? (?:called|named|names?)\b"),
    re.compile(rf"\bnames? of (?:my|our|the) {_THING}{_TAIL}"),
    re.compile(
        rf"\b(?:did|do|have) (?:i|we) (?:name|call|nickname) (?:my|our|the) {_THING}{_TAIL}"
    ),
]
_NOT_THINGS = frozenset("name names nickname".split())


def _questions(text: str) -> list[str]:
    """The question sentences of ``text``, normalised for the rules (module docstring)."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    out = []
    for sentence in _SENTENCE.findall(text):
        low = sentence.strip().lower()
        asked = low.endswith("?")
        low = " ".join(re.sub(r"[^\w',-]+", " ", low).split()).strip(" ,'")
        if low and (asked or _QUESTION_START.search(low)):
            # Commas only tell where a question may start; the rules read words.
            out.append(" ".join(low.replace(",", " ").split()))
    return out


def _the_users(sentence: str, start: int) -> bool:
    """Whether the word at ``start`` has no nearer owner than the user ("my cat" yes, "my
    sister's cat" no, "the cat" yes)."""
    owner = _OWNER.match(sentence[:start])
    if owner is None:
        return True
    own = owner.group("own")
    return own in ("my", "our") or own in _CONTRACTIONS


def _pet_keys(sentence: str) -> list[str]:
    if not _FIRST_PERSON.search(sentence):
        return []
    keys = [
        PET + _PET_FORMS[m.group("w")]
        for m in _PET_WORD.finditer(sentence)
        if _the_users(sentence, m.start())
    ]
    if any(_the_users(sentence, m.start()) for m in _PETS_ANY.finditer(sentence)):
        keys.append(PET)
    return keys


def _named_keys(sentence: str) -> list[str]:
    keys = []
    for pattern in _NAMING_RULES:
        for m in pattern.finditer(sentence):
            if m.group("s") in _NOT_THINGS:
                continue
            pet = _PET_WORD.search(m.group("p"))
            keys.append(PET + _PET_FORMS[pet.group("w")] if pet else NAMED + m.group("s"))
    return keys


# A named one's home or job ("where does Leila live now?", "what does Marisol do?",
# "what's Kwame's job?"): the slots ``city:<name>`` and ``occupation:<name>`` of memory.slots.
_PERSON_CITY_Q = re.compile(
    r"\bwhere (?:does|did|is|do) (?P<n>[a-z][\w-]+) (?:now |currently )?(?:live|living|stay|"
    r"staying|based|moving|move|moved)\b"
)
_PERSON_JOB_Q = re.compile(
    r"\bwhat (?:does|did|is) (?P<n>[a-z][\w-]+) do\b(?! to\b)|"
    r"\bwhat(?:'s| is) (?P<m>[a-z][\w-]+)'s (?:job|work|role|rank|position|title)\b"
)
_NOT_PERSONS = frozenset(
    "i you he she it we they my your his her its our their the a an this that there everyone "
    "everybody someone somebody anyone mum mom dad he's she's it's".split()
)


def _person_keys(sentence: str) -> list[str]:
    keys = []
    for m in _PERSON_CITY_Q.finditer(sentence):
        if m.group("n") not in _NOT_PERSONS:
            keys.append("city:" + m.group("n"))
    for m in _PERSON_JOB_Q.finditer(sentence):
        name = m.group("n") or m.group("m")
        if name not in _NOT_PERSONS:
            keys.append("occupation:" + name)
    return keys


def slots_asked(question: str | None) -> tuple[str, ...]:
    """The slot keys ``question`` asks about, each once, in the module docstring's order;
    ``()`` for None, an empty text or a question about nothing the rules know.

    A key ending in ``:`` (:data:`PREFIX`) stands for every slot starting with it (``pet:``).

    >>> slots_asked("What do I do for a living?")
    ('occupation', 'workplace')
    >>> slots_asked("Is my kitten ok?")
    ('pet:cat',)
    >>> slots_asked("What did I eat yesterday?")
    ()
    """
    keys: list[str] = []
    for sentence in _questions(question or ""):
        for slot_keys, pattern in _RULES:
            if pattern.search(sentence):
                keys.extend(slot_keys)
        if _JOB_WORDS.search(sentence) and _SUBJECT_I.search(sentence):
            keys.extend(WORK)
        keys.extend(_pet_keys(sentence))
        keys.extend(_named_keys(sentence))
        keys.extend(_person_keys(sentence))
    # Fixed keys in the docstring's order, whichever sentence asked first; then the pets and
    # named things in the order the question names them (a stable sort keeps it).
    found = list(dict.fromkeys(keys))
    return tuple(sorted(found, key=lambda k: _ORDER.get(k, len(_ORDER))))


# Words that ask how things stand now, as against how they once were.
_NOW = re.compile(
    r"\b(?:now|nowadays|these days|at the moment|currently|current|still|any ?more|yet|"
    r"lately|at present|latest|so far)\b"
)


def asks_about_now(question: str | None) -> bool:
    """Whether a question sentence of ``question`` asks how something stands now ("Where am I
    living at the moment?", "Do I still play the cello?", "Has she had the baby yet?"), so the
    newest of several memories about it is the likelier answer. False for None.

    >>> asks_about_now("What do I play these days?")
    True
    >>> asks_about_now("Where did I grow up?")
    False
    """
    return any(_NOW.search(sentence) for sentence in _questions(question or ""))


def is_prefix(key: str) -> bool:
    """Whether ``key`` asks for every slot starting with it (``pet:``)."""
    return key.endswith(PREFIX)


def slot_is_asked(slot: str | None, asked: tuple[str, ...]) -> bool:
    """Whether a memory of slot ``slot`` (None: no slot) answers a question asking ``asked``:
    one of its keys exactly, or a prefix ``slot`` starts with. Recall applies the same rule in
    SQL."""
    if slot is None:
        return False
    return any(slot.startswith(k) if is_prefix(k) else slot == k for k in asked)
