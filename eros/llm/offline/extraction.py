"""What the user says about themself, read with transparent English patterns.

One pass over a message (:func:`extract`) yields typed matches ("I live in X", "I work as a
Y", "I love Z", "my sister…", "today I…"); the rest of the module renders them as insight
facts, profile fields and dreaming memories. Only first-person English is understood: other
languages yield nothing, which is honest for a model that cannot read them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eros.llm.cleaning import rust_trim
from eros.llm.offline.text import (
    ADVERBS,
    CONJUNCTIONS,
    MODALS,
    PHRASE,
    STOPWORDS,
    THIRD_PERSON,
    bare,
    capitalise,
    clip,
    is_past,
    normalise,
    rx,
    swap_person,
    third_person_verb,
    with_article,
)

#: At most this many memories come out of one dreaming pass (DESIGN §7).
MAX_MEMORIES = 10

# Where a place, job or workplace phrase ends ("I live in Lisbon with my cat" → "Lisbon").
_PLACE_STOPS = CONJUNCTIONS | {"with", "for", "at", "near", "now", "currently", "right", "these"}
_PLACE_STOPS |= {"last", "this", "next", "on", "since", "ago", "from", "in", "is", "was", "are"}
_TIME_WORDS = frozenset("today tonight tomorrow yesterday".split())
_PLACE_STOPS |= _TIME_WORDS
_JOB_STOPS = CONJUNCTIONS | _TIME_WORDS | {"at", "in", "for", "with", "from", "on", "by", "now"}
_WORKPLACE_STOPS = CONJUNCTIONS | _TIME_WORDS | {"as", "in", "now", "on", "with", "for"}
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
    apprentice trainee
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
    solicitor barrister paralegal notary hygienist carer caretaker porter ranger inspector
    supervisor coordinator administrator planner auditor banker broker trader teller agent
    recruiter adviser advisor keeper operator director specialist lead founder owner
    builder roofer plasterer decorator joiner locksmith surveyor optician physio physician
    sonographer radiographer childminder housekeeper janitor curator archivist historian
    headteacher principal trainer referee athlete footballer sailor fisherman fisherwoman
    worker labourer laborer dispatcher stenographer setter sommelier butler chauffeur
    tester packer picker fitter installer handler
    """.split()
)
_OCCUPATION_SUFFIXES = ("ician", "ologist", "grapher", "eer", "ist", "man")
# Words in "-ist" that are no job ("I'm a perfectionist").
_NOT_OCCUPATIONS = frozenset(
    "optimist pessimist perfectionist realist idealist minimalist purist tourist feminist "
    "racist perfectionist list wrist twist "
    # Words in "-man" that are no job ("I'm a changed woman").
    "woman human german roman shaman gentleman madman superman batman snowman caveman".split()
)

#: Pet words and the species each one is (a puppy is a dog, a golden retriever too).
PET_SPECIES: dict[str, str] = {
    **{
        w: w
        for w in (
            "dog cat rabbit hamster parrot bird fish turtle tortoise horse snake lizard ferret rat "
            "mouse budgie"
        ).split()
    },
    "guinea pig": "guinea pig",
    "puppy": "dog",
    "pup": "dog",
    "kitten": "cat",
    "bunny": "rabbit",
    **{
        breed: "dog"
        for breed in (
            "golden retriever",
            "labrador retriever",
            "retriever",
            "labrador",
            "labradoodle",
            "beagle",
            "poodle",
            "husky",
            "terrier",
            "spaniel",
            "collie",
            "border collie",
            "german shepherd",
            "shepherd",
            "bulldog",
            "french bulldog",
            "pug",
            "dachshund",
            "corgi",
            "chihuahua",
            "greyhound",
            "whippet",
            "cockapoo",
            "schnauzer",
            "rottweiler",
            "dalmatian",
            "shiba inu",
            "doberman",
            "great dane",
            "pomeranian",
            "maltese",
            "shih tzu",
        )
    },
    **{breed: "cat" for breed in ("maine coon", "siamese cat", "tabby", "ragdoll", "sphynx")},
}
# Longest first, so "golden retriever" wins over "retriever".
_PETS = "|".join(re.escape(w) for w in sorted(PET_SPECIES, key=len, reverse=True))
_RELATIONS = (
    r"best friend|friends|friend|boyfriend|girlfriend|husband|wife|partner|fiancée|fiancee|"
    r"fiancé|fiance|sister|brother|mom|mum|mother|dad|father|parents|son|daughter|kids|children|"
    r"grandma|grandmother|grandpa|grandfather|aunt|uncle|cousin|roommate|flatmate|boss|coworker|"
    r"co-worker|colleague|family|niece|nephew|ex|grandad|granddad|granny|gran|nan|nana|nanna|"
    r"stepmom|stepmum|stepdad|stepmother|stepfather|mother-in-law|father-in-law|in-laws|auntie|"
    r"godmother|godfather|twin|baby|bestie|neighbour|neighbor|housemate|teammate|mentor|"
    r"therapist|doctor|granddaughter|grandson|grandkids|grandchildren|grandchild"
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

_WHEN = (
    r"today|yesterday|this morning|last night|tonight|this weekend|last weekend|last week|"
    r"this afternoon|this evening"
)

_ADVERBS = frozenset("finally actually also just really".split())


def is_occupation(phrase: str) -> bool:
    """Whether ``phrase`` names a job ("nurse", "software engineer"): its last word does."""
    words = phrase.lower().split()
    if not words:
        return False
    head = words[-1]
    if head in _NOT_OCCUPATIONS:
        return False
    return head in _OCCUPATIONS or head.endswith(_OCCUPATION_SUFFIXES)


def _verb_like(word: str) -> bool:
    """Whether ``word`` can start a predicate after a subject ("lives", "is", "went")."""
    low = word.lower()
    if low in {"is", "was", "has", "had", "are", "were", "will", "can", "just", "always"}:
        return True
    if low in {"never", "still", "also", "really", "doesn't", "didn't", "isn't", "wasn't"}:
        return True
    if low in MODALS or is_past(low):
        return True
    return len(low) > 3 and low.endswith("s") and not low.endswith("ss")


@dataclass(frozen=True)
class Match:
    """One thing the user said about themself: ``kind`` plus a short ``value``."""

    # name place job workplace like dislike pet age status rhythm trait feeling event relation
    # outcome
    kind: str
    value: str
    start: int
    end: int
    extra: str = ""  # verb, pet species, relation, tense or time word, depending on kind


_PL = r"[^.!?;:\n]+"  # a list phrase: commas allowed
_PLACE_RES = [
    rx(rf"\bI (?:currently |still |now )?live in (?P<v>{PHRASE})"),
    rx(rf"\bI(?:'m| am) (?:currently |now )?(?:living|based) in (?P<v>{PHRASE})"),
    rx(rf"\bI(?:'m| am) (?:originally )?from (?P<v>{PHRASE})"),
    rx(rf"\bI come from (?P<v>{PHRASE})"),
    rx(
        rf"\b(?:I|we)(?:'ve| have)? (?:just |recently |finally |now )?(?:moved|relocated)"
        rf" (?:house )?to (?P<v>{PHRASE})"
    ),
    # A home somewhere: "got the keys to our own place in Utrecht", "living back at my
    # parents' in Swansea", "signed the lease on a studio flat in Canton". The place is a
    # proper name (case-sensitive).
    rx(
        # The user's own move: "I"/"we" or nobody before it, not "he's moved into…".
        r"(?:^|[.!?,;:]\s*|\b(?:I|we)(?:'ve| have)? )(?:just |finally |also )?"
        r"(?:got the keys to|signed the lease (?:on|for)|moved into|bought) (?:a|an|the|our|my)"
        r" (?:[\w'-]+ ){0,3}?(?:place|flat|apartment|house|home|studio|room|condo)"
        rf" in (?P<v>(?-i:[A-Z]){PHRASE})"
    ),
    rx(
        r"\b(?:our|my) (?:own |new )?(?:place|flat|apartment|house|home)"
        rf" in (?P<v>(?-i:[A-Z]){PHRASE})"
    ),
    # Chat shorthand without "I": "originally from Sapporo, living in Berlin for two years".
    rx(
        r"(?:^|[.!?,;]\s*)(?:(?:and|but|now|currently|still) )?(?:living|based) in "
        rf"(?P<v>(?-i:[A-Z]){PHRASE})"
    ),
    rx(
        r"\bI(?:'m| am) (?:now |currently |still )?(?:living|staying) (?:back )?(?:at|with) "
        rf"(?:[\w'-]+ ){{1,3}}?in (?P<v>(?-i:[A-Z]){PHRASE})"
    ),
]
_JOB_EXPLICIT_RE = rx(
    rf"\bI(?:'m| am)? (?:currently |still )?work(?:ing)? as (?P<art>an? )?(?P<v>{PHRASE})"
)
_JOB_IM_A_RE = rx(rf"\bI(?:'m| am) (?:now |still |currently )?(?P<art>an? )(?P<v>{PHRASE})")
# A job named without its article ("I'm head chef now!!"): only a known job.
_JOB_IM_BARE_RE = rx(
    rf"\bI(?:'m| am) (?:now |still |currently |officially |finally )?(?!an? )(?P<v>{PHRASE})"
)
_JOB_NEW_RE = rx(
    r"\b(?:I(?:'ve| have)? (?:just |finally )?(?:got|started|landed|accepted|took) (?:a |my |the )?"
    r"(?:new )?(?:job|position|role|gig) as|I(?:'ve| have)? (?:just |finally )?(?:became|been hired"
    r" as|got hired as|started working as|started as)|my new job is)"
    rf" (?P<art>an? )?(?P<v>{PHRASE})"
)
# A job taken up: "got promoted to team lead", "first week as head chef at Ember",
# "starting as a trainee solicitor".
_JOB_STARTED_RE = rx(
    r"\b(?:(?:got |been |was |just got )?promoted to|(?:my )?first (?:day|week|month|shift) as|"
    r"(?:I(?:'m| am) |I )?(?:starting|start|starts)"
    r" (?:my new job |work |next \w+ |on \w+ |\w+ )?as)"
    rf" (?P<art>an? |the )?(?P<v>{PHRASE})"
)
# Retired: "I retired last month", "I'm retired now", "I've finally retired".
_RETIRED_RE = rx(r"\bI(?:'m| am|'ve| have)? (?:just |finally |now |officially )?(?:retired)\b")
# "… at an insurance company", "… for the council", "… at Google": where a role is held.
_ORGANISATIONS = (
    r"company|firm|bank|hospital|school|college|university|uni|shop|store|studio|restaurant|"
    r"cafe|café|hotel|warehouse|factory|office|clinic|surgery|practice|agency|council|startup|"
    r"start-up|charity|library|museum|gallery|garage|salon|bakery|nursery|lab|laboratory|"
    r"centre|center|plant|mill|airport|prison|supermarket|hospice|department|ministry|"
    r"newspaper|magazine|publisher|brewery|theatre|theater|trust|foundation|consultancy|"
    r"manufacturer|supplier|retailer|chain|business|organisation|organization|ngo|institute"
)
_AT_ORGANISATION = rx(
    r"^(?P<job>.+?) (?:at|for|with) "
    rf"(?P<org>(?:(?:an?|the) (?:[\w'-]+ ){{0,3}}?(?:{_ORGANISATIONS})\b|(?-i:[A-Z])[\w'&-]*).*)$"
)
# "I'm a regular at the pub": a role at a place that is no job.
_NOT_JOBS_AT = frozenset("regular member fan customer guest patient client visitor".split())
_JOB_MY_JOB_RE = rx(rf"\bmy job is (?:being )?(?P<art>an? )?(?P<v>{PHRASE})")
_WORKPLACE_RE = rx(rf"\bI(?:'m| am)? (?:currently |still )?work(?:ing)? (?:at|for) (?P<v>{PHRASE})")
# A job got somewhere: "got a job at a ramen place", "I got the bakery job".
_WORKPLACE_NEW_RES = [
    # The user's own: "I" or nobody before it ("also got a job at…"), never "she got a job".
    rx(
        r"(?:^|\bI(?:'ve| have)? |\band |[.!,;]\s*)(?:just |finally |also )?"
        r"(?:got|landed|found|started)"
        rf" (?:a |my |the )?(?:new )?job (?:at|with) (?P<v>{PHRASE})"
    ),
    rx(
        r"(?:^|\bI(?:'ve| have)? |\band |[.!,;]\s*)(?:just |finally )?(?:got|landed|accepted|took)"
        r" the (?P<v>[\w'-]+(?: [\w'-]+)?) (?:job|offer|role|position)\b"
    ),
]
_LIKE_RES = [
    rx(
        r"\bI(?: really| totally| absolutely| just| also| honestly| kinda| kind of)?"
        rf" (?P<verb>love|like|enjoy|adore)\b (?P<v>{_PL})"
    ),
    rx(rf"\bI(?:'m| am) (?:really |totally |so |super |very )?(?P<verb>into) (?P<v>{_PL})"),
    rx(rf"\bI(?:'m| am) (?:a )?(?:huge |big |massive )?(?P<verb>fan) of (?P<v>{_PL})"),
]
_DISLIKE_RE = rx(
    r"\bI(?: really| just| honestly| absolutely)?"
    r" (?P<verb>hate|dislike|can't stand|cannot stand|don't like|do not like|can't bear)\b"
    rf" (?P<v>{_PL})"
)
_PET_RES = [
    rx(
        rf"\b(?:I|we) (?:just |finally )?renamed (?:my|our|the) (?P<extra>{_PETS})"
        rf" (?:to )?(?P<v>{PHRASE})"
    ),
    rx(
        rf"\b(?:I|we) (?:just |finally )?(?:got|adopted|have|rescued) an? (?:new )?(?:\w+ )??"
        rf"(?P<extra>{_PETS})\b[^.!?;:\n]{{0,40}}? (?:called|named) (?P<v>{PHRASE})"
    ),
    rx(
        rf"\bmy (?P<extra>{_PETS})(?:'s name is|'s called| is called| is named| called| named)"
        rf" (?P<v>{PHRASE})"
    ),
    rx(
        rf"\bI (?:have|got|adopted|have got)(?: got)? an? (?:\w+ )??(?P<extra>{_PETS})"
        rf" (?:called|named) (?P<v>{PHRASE})"
    ),
    # The name beside the pet: "my cat Pickle is 17 now" (a capitalised word, not "I").
    rx(rf"\b(?:my|our) (?P<extra>{_PETS}),? (?P<v>(?-i:[A-Z])[\w'-]+)\b(?<!\bI)"),
]
# A name the user goes by. "my name is …" and "call me …" take any word; "I'm …" only a
# capitalised word that ends the clause ("Hi, I'm Sam." / "I'm Sam and …"), and not a word
# that reads as a state or a nationality ("I'm Fine", "I'm English").
_NAME_WORD = r"[^\W\d_][\w'-]{0,29}"
_NAME_RES = [
    rx(rf"\bmy name(?:'s| is) (?P<v>{_NAME_WORD})"),
    rx(
        r"\b(?:call me|I go by|everyone calls me|people call me|friends call me)"
        rf" (?P<v>{_NAME_WORD})"
    ),
]
_NAME_IM_RE = re.compile(
    r"(?:^|[.!?,]\s*|\b(?:hi|hey|hello|hiya)\b[,!.]?\s*)[Ii](?:'m| am|m) (?P<v>[A-Z][a-z'-]{1,29})"
    r"(?=\s*(?:[.,!?;]|$|\band\b|\bhere\b|\bbtw\b|\bby the way\b|\blol\b|\bfrom\b))"
)
_NOT_NAMES = frozenset(
    """fine good okay ok back here sorry tired home done ready sure new not just so very also
    still happy sad bored alright great well sick busy free late lost confused serious kidding
    joking english french german italian spanish portuguese american british irish scottish
    welsh canadian australian dutch swedish norwegian danish finnish polish russian chinese
    japanese korean indian brazilian mexican greek turkish""".split()
)
_PARTNERS = r"boyfriend|girlfriend|partner|husband|wife|fiancée|fiancee|fiancé|fiance"
_STATUS_RES = [
    rx(
        r"\bI(?:'m| am) (?:now |currently |still |officially |finally )?(?P<v>single|married|"
        r"engaged|divorced|separated|widowed|in a relationship|seeing someone)\b"
    ),
    rx(r"\b(?:I|we) (?:just |finally |recently )?got (?P<v>married|engaged|divorced)\b"),
    rx(r"\bwe(?:'re| are) (?:now |officially |finally )?(?P<v>engaged|married)\b"),
    rx(r"\bI(?:'m| am) (?:now )?(?P<v>dating [A-Z][\w'-]{1,29})"),
    rx(
        r"\b(?:I|we) (?:just |finally |recently )?(?P<v>broke up)"
        rf"(?: with (?:my |our )?(?P<who>{_PARTNERS}|[A-Z][\w'-]{{1,29}}))?"
    ),
    rx(
        rf"\bI(?: now)? have an? (?:new )?(?P<v>{_PARTNERS})"
        r"(?: (?:called|named) (?P<who>[A-Z][\w'-]{1,29}))?"
    ),
    # A marriage ending: "we've decided to separate", "the divorce came through".
    rx(
        r"\b(?:we|I)(?:'ve| have)? (?:just |finally )?(?:decided|agreed) to "
        r"(?P<v>separate|split up|break up|get divorced)\b"
    ),
    rx(
        r"\b(?:the |my |our )?(?P<v>divorce) (?:came through|is final|went through|"
        r"(?:(?:is|was|has been|got|is now|finally) )?(?:officially )?"
        r"(?:finali[sz]ed|final|done|through))"
    ),
    # Names are capitalised, so these are case-sensitive outside the (?i:…) groups.
    re.compile(
        r"\b(?P<who>[A-Z][\w'-]{1,29}) and I (?i:just |finally |recently )?(?P<v>broke up)\b"
    ),
    re.compile(
        r"\b(?i:I(?:'ve| have) been|I(?:'m| am)(?: now| currently)?) (?P<v>(?i:seeing|dating)) "
        r"(?:(?i:this|a|an) (?i:guy|girl|man|woman|boy|lady|person) )?(?:(?i:called|named) )?"
        r"(?P<who>[A-Z][\w'-]{1,29})\b"
    ),
    re.compile(
        r"\b(?i:I(?:'m| am|'ve| have)?(?: now| currently| just| finally)?) "
        r"(?P<v>(?i:seeing|dating|met|been seeing)) (?i:someone|somebody)"
        r"(?: (?i:new))?[^.!?]{0,40}?[,.!?]*\s*(?:(?i:and) )?(?i:(?:her|his|their) name(?:'s| is)) "
        r"(?P<who>[A-Z][\w'-]{1,29})"
    ),
]
_AGE_RES = [
    rx(r"\bI(?:'m| am) (?P<v>\d{1,3}) ?(?:(?:years?|yrs?) old|yo|y/o)\b"),
    rx(r"\bI(?: just)? turned (?P<v>\d{1,3})\b"),
]
_MODIFIERS = (
    r"(?: (?:such|a|an|total|real|complete|bit|of|kind|sort|really|definitely|totally|more|"
    r"big|huge|very|quite|pretty|kinda|little|super|so|rather|fairly|naturally))*"
)
_RHYTHM_RE = rx(rf"\bI(?:'m| am){_MODIFIERS} (?P<v>{_RHYTHMS})\b")
_TRAIT_RE = rx(rf"\bI(?:'m| am){_MODIFIERS} (?P<v>{_TRAITS})\b")
_FEELING_RE = rx(
    r"\bI(?P<tense>'m|'ve been| am| have been| feel| felt| was)"
    r"(?: (?:so|really|very|a|bit|little|kind|of|kinda|pretty|super|quite|just|totally|"
    r"extremely|incredibly|feeling|still))*"
    rf" (?P<v>{_FEELINGS})\b(?: (?P<conn>about|because|since|after|over) (?P<reason>{PHRASE}))?"
)
_EVENT_JUST_RE = rx(rf"\bI(?:'ve| have)? just (?P<v>{PHRASE})")
_EVENT_WHEN_FIRST_RE = rx(
    rf"\b(?P<when>{_WHEN}),? I(?P<aux>'m|'ve|'ll| am| have| will)? (?P<v>{PHRASE})"
)
_EVENT_WHEN_LAST_RE = rx(
    # The clause is capped at 80 characters so a long message cannot make the lazy scan
    # quadratic.
    r"\bI (?P<v>(?:(?:finally|actually|also) )?[A-Za-z']+\b[^.,!?;:\n]{0,80}?)"
    rf" (?P<when>{_WHEN})\b"
)
_RELATION_OBJECT_RE = rx(
    rf"\bI (?P<verb>[A-Za-z']+) my (?P<extra>{_RELATIONS})\b(?P<v>[^.,!?;:\n]*)"
)
_RELATION_SUBJECT_RE = rx(rf"\bmy (?P<extra>{_RELATIONS})(?P<poss>'s)?\b(?P<v>{PHRASE})")
# How something that was pending turned out ("the surgery went well", "I passed my exam").
_OUTCOME_RE = rx(
    r"\b(?P<s>(?:the|my|her|his|our|their) (?:[A-Za-z]+'s )?[A-Za-z]+(?: [A-Za-z]+)?)"
    r" (?:(?:finally|actually|all) )?(?P<v>went (?:really |very |so |super )?(?:well|fine|great|ok|"
    r"okay|badly|wrong|smoothly)|is over|was a success|was fine|got cancell?ed|was cancell?ed|"
    r"got postponed|was postponed|is done|is fine now|is better now|got better|turned out fine|"
    r"didn't happen|did not happen|was called off|got called off|fell through|"
    r"(?:got|was|has been|is) (?:approved|accepted|granted|rejected|denied|refused)|"
    r"came back (?:clear|negative|positive|fine|normal|benign))"
)
# The same told in chat shorthand at the start of a sentence: "visa approved!!".
_OUTCOME_BARE_RE = rx(
    r"(?:^|[.!?]\s+)(?P<s>(?!(?:it|that|this|he|she|they|we|i|you)\b)[a-z]+)"
    r" (?P<v>approved|accepted|granted|rejected|denied|refused|cancell?ed|postponed)\b"
)
_OUTCOME_I_RE = rx(
    r"\bI (?:finally |actually |just )?(?P<v>passed|aced|failed|finished|nailed|got through|"
    r"survived|got) (?P<o>(?:my|the) [^.,!?;:\n]+)"
)
FEELING_WORD = rx(rf"(?:{_FEELINGS})\b")
_QUOTED_NAME = re.compile(r"^[\"'“”]+|[\"'“”]+$")


# A sentence that ends in a question mark (its span), sentences ending at . ! ? or a newline.
_QUESTION = re.compile(r"[^.!?\n]*\?+")


def extract(text: str) -> list[Match]:
    """Everything the patterns find in one user message, ordered by position."""
    text = normalise(text)
    found: list[Match] = []

    def add(kind: str, value: str, m: re.Match[str], extra: str = "") -> None:
        if value:
            found.append(Match(kind, value, m.start(), m.end(), extra))

    for pattern in _PLACE_RES:
        for m in pattern.finditer(text):
            add("place", clip(m.group("v"), _PLACE_STOPS, 4), m)

    for m in _JOB_EXPLICIT_RE.finditer(text):
        add("job", _job_value(m, require_occupation=False), m)
    for m in _JOB_IM_A_RE.finditer(text):
        job = _job_value(m, require_occupation=True)
        at = _AT_ORGANISATION.match(m.group("v"))
        if at and not job and bare(at.group("job").split()[-1]) not in _NOT_JOBS_AT:
            # "I'm a QA tester at an insurance company": a role at an organisation is a job
            # even when the word for it is not a known one.
            job = _job_value(m, require_occupation=False)
        add("job", job, m)
        if job and at:
            add("workplace", clip(at.group("org"), _WORKPLACE_STOPS, 4), m)
    for m in _JOB_IM_BARE_RE.finditer(text):
        if not any(_overlaps(Match("job", "", m.start(), m.end()), f) for f in found):
            add("job", _job_value(m, require_occupation=True), m)
    for m in _JOB_NEW_RE.finditer(text):
        add("job", _job_value(m, require_occupation=False), m)
    for m in _JOB_STARTED_RE.finditer(text):
        add("job", _job_value(m, require_occupation=True), m)
    for m in _RETIRED_RE.finditer(text):
        add("retired", "retired", m)
    for m in _JOB_MY_JOB_RE.finditer(text):
        add("job", _job_value(m, require_occupation=not m.group("art")), m)
    for m in [m for p in _WORKPLACE_NEW_RES for m in p.finditer(text)]:
        value = clip(m.group("v"), _WORKPLACE_STOPS, 4)
        if value.lower() not in _VAGUE_OBJECTS and value.lower() not in {"new", "dream", "first"}:
            add("workplace", value if " " in value or value[:1].isupper() else f"the {value}", m)
    for m in _WORKPLACE_RE.finditer(text):
        value = clip(m.group("v"), _WORKPLACE_STOPS, 4)
        if value.lower() not in _VAGUE_OBJECTS:
            add("workplace", value, m)

    for pattern in _LIKE_RES:
        for m in pattern.finditer(text):
            for item in _list_items(m.group("v")):
                add("like", item, m, m.group("verb").lower())
    for m in _DISLIKE_RE.finditer(text):
        for item in _list_items(m.group("v")):
            add("dislike", item, m, m.group("verb").lower())

    for pattern in _PET_RES:
        for m in pattern.finditer(text):
            name = _QUOTED_NAME.sub("", clip(m.group("v"), CONJUNCTIONS, 2))
            name = " ".join(capitalise(w) for w in name.split())
            add("pet", name, m, m.group("extra").lower())

    for pattern in _NAME_RES:
        for m in pattern.finditer(text):
            add("name", _name_value(m.group("v")), m)
    for m in _NAME_IM_RE.finditer(text):
        add("name", _name_value(m.group("v")), m)

    statuses: list[Match] = []
    for pattern in _STATUS_RES:
        for m in pattern.finditer(text):
            value = _status_value(m)
            if value:
                statuses.append(Match("status", value, m.start(), m.end()))
    # Where two readings overlap ("seeing someone new, her name is Leonor"), the longer,
    # more specific one is the status.
    for status in statuses:
        if not any(
            _overlaps(status, other) and other.end - other.start > status.end - status.start
            for other in statuses
        ):
            found.append(status)

    for pattern in _AGE_RES:
        for m in pattern.finditer(text):
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
            reason = clip(m.group("reason"), CONJUNCTIONS, 6)
            if reason:
                reason = swap_person(reason, THIRD_PERSON)
                value = f"{feeling} {m.group('conn').lower()} {reason}"
        add("feeling", value, m, tense)

    feelings = [m for m in found if m.kind == "feeling"]
    # "worried about my mum's surgery" is one feeling, not also a relation.
    found.extend(r for r in _relations(text) if not any(_overlaps(r, f) for f in feelings))
    for m in _OUTCOME_RE.finditer(text):
        subject = swap_person(m.group("s").strip(), THIRD_PERSON)
        add("outcome", f"{subject} {m.group('v').lower()}", m)
    for m in _OUTCOME_BARE_RE.finditer(text):
        add("outcome", f"their {m.group('s').lower()} was {m.group('v').lower()}", m)
    for m in _OUTCOME_I_RE.finditer(text):
        thing = clip(swap_person(m.group("o"), THIRD_PERSON), CONJUNCTIONS, 5)
        if thing:
            add("outcome", f"{m.group('v').lower()} {thing}", m)
    events = _events(text)
    # Events are the weakest reading: "I just turned 30" is an age, "Today I feel sad" a
    # feeling. Keep an event only where nothing more specific matched.
    for event in events:
        if not any(_overlaps(event, other) for other in found):
            found.append(event)

    # A question states nothing ("Where do I live?", "Do you think I'm shy?").
    questions = [q.span() for q in _QUESTION.finditer(text)]
    found = [m for m in found if not any(a <= m.start < b for a, b in questions)]
    found.sort(key=lambda m: (m.start, m.end))
    return found


def _status_value(m: re.Match[str]) -> str:
    """The relationship status a match states, as a third-person predicate."""
    value = m.group("v")
    who = m.groupdict().get("who")
    low = value.lower()
    if low == "broke up":
        if not who:
            return "broke up with their partner"
        return f"broke up with their {who.lower()}" if who.islower() else f"broke up with {who}"
    if re.fullmatch(_PARTNERS, low):
        return f"has a {low} called {who}" if who else f"has a {low}"
    if low.startswith("dating "):
        return "is dating " + value[7:]
    if low in {"seeing", "dating", "met", "been seeing"}:
        return f"is dating {who}" if who else ""
    if low in {"separate", "split up", "break up"}:
        return "is separated" if low == "separate" else "broke up with their partner"
    if low in {"divorce", "get divorced"}:
        return "is divorced" if low == "divorce" else "is getting divorced"
    return f"is {low}"


def _name_value(word: str) -> str:
    """``word`` as a name ("sam" → "Sam"), or "" when it reads as something else."""
    word = word.strip("'-")
    lowered = word.lower()
    if (
        not word
        or lowered in _NOT_NAMES
        or re.fullmatch(_TRAITS, lowered)
        or re.fullmatch(_FEELINGS, lowered)
    ):
        return ""
    return word[0].upper() + word[1:]


def _overlaps(a: Match, b: Match) -> bool:
    return a.start < b.end and b.start < a.end


def _job_value(m: re.Match[str], *, require_occupation: bool) -> str:
    value = clip(m.group("v"), _JOB_STOPS, 4)
    if value.lower().startswith("the "):
        value = value[4:]  # "I work as the head chef" → "head chef"
    if not value or (require_occupation and not is_occupation(value)):
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
        first = bare(words[0])
        if first in _CLAUSE_STARTERS or any(bare(w) in _COPULAS for w in words):
            break  # a new clause ("…, dogs are fine") ends the list
        if first in {"my", "your", "our", "his"}:
            continue  # "I love my sister" is a relation, not an interest
        if any(bare(w) in {"you", "your", "yours"} for w in words):
            continue  # "I love talking to you" is about the companion, not an interest
        item = clip(raw, CONJUNCTIONS, 4)
        if item and item.lower() not in _VAGUE_OBJECTS:
            items.append(swap_person(item, THIRD_PERSON))
        if len(items) == 3:
            break
    return items


# "me and " / "I and " just before a relation that is the subject ("me and my boyfriend…").
_WITH_ME = re.compile(r"\b(?:me|I) and $", re.IGNORECASE)


def _relations(text: str) -> list[Match]:
    found: list[Match] = []
    for m in _RELATION_OBJECT_RE.finditer(text):
        verb = m.group("verb")
        if verb.lower() in STOPWORDS:
            continue
        rest = clip(m.group("v"), CONJUNCTIONS, 6)
        value = f"{third_person_verb(verb)} their {m.group('extra').lower()}"
        if rest:
            value += " " + swap_person(rest, THIRD_PERSON)
        found.append(Match("relation", value, m.start(), m.end(), m.group("extra").lower()))
    for m in _RELATION_SUBJECT_RE.finditer(text):
        words = m.group("v").split()
        # The relation must be the subject: optional name, then a verb ("my sister Ana lives…").
        index = 1 if len(words) > 1 and words[0][:1].isupper() else 0
        possessive = bool(m.group("poss"))  # "my sister's wedding is…" needs no verb check
        if not possessive and (index >= len(words) or not _verb_like(words[index])):
            continue
        match = Match("relation", "", m.start(), m.end())
        if any(_overlaps(match, other) for other in found):
            continue
        stops = CONJUNCTIONS - {"and"}
        # The relation's own clause only ("my cousin is a paralegal and she's helping me…").
        own = (clauses(m.group("v").strip(), pronouns=True) or [""])[0]
        rest = clip(own, stops, 10)
        relation = m.group("extra").lower() + (m.group("poss") or "")
        value = f"their {relation} {swap_person(rest, THIRD_PERSON)}"
        if _WITH_ME.search(text, 0, m.start()):
            value = "they and " + value  # "me and my boyfriend bought…": both did
        found.append(Match("relation", value, m.start(), m.end(), m.group("extra").lower()))
    return found


def _events(text: str) -> list[Match]:
    found: list[Match] = []
    for m in _EVENT_JUST_RE.finditer(text):
        clause = clip(m.group("v"), CONJUNCTIONS, 8)
        if clause and is_past(clause.split()[0]):
            value = "just " + swap_person(clause, THIRD_PERSON)
            found.append(Match("event", value, m.start(), m.end()))
    for m in _EVENT_WHEN_FIRST_RE.finditer(text):
        clause = clip(m.group("v"), CONJUNCTIONS, 8)
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
            predicate = " ".join([*words[:at], third_person_verb(words[at]), *words[at + 1 :]])
        value = swap_person(predicate, THIRD_PERSON)
        found.append(Match("event", value, m.start(), m.end(), m.group("when").lower()))
    for m in _EVENT_WHEN_LAST_RE.finditer(text):
        clause = m.group("v")
        words = clause.split()
        verb_index = 1 if words[0].lower() in _ADVERBS else 0
        if verb_index >= len(words) or not is_past(words[verb_index]) or len(words) > 10:
            continue
        if any(bare(w) in CONJUNCTIONS for w in words):
            continue
        match = Match("event", "", m.start(), m.end())
        if any(_overlaps(match, other) for other in found):
            continue
        value = swap_person(clause, THIRD_PERSON)
        found.append(Match("event", value, m.start(), m.end(), m.group("when").lower()))
    return found


# --------------------------------------------------------------------------------------------
# Rendering matches as facts (insight step 1), profile fields (step 2) and memories (dreaming)
# --------------------------------------------------------------------------------------------


def insight_facts(user_message: str) -> list[str]:
    """Lowercase third-person facts the user states about themself (insight step 1).

    In order of appearance, de-duplicated: ``"lives in Lisbon"``, ``"works as a nurse"``,
    ``"works at the hospital"``, ``"goes by Sam"``, ``"likes hiking"``, ``"dislikes
    mornings"``, ``"has a dog called Biscuit"``, ``"is 29 years old"``, ``"is a night owl"``,
    ``"is shy"``. Feelings, events and relations are moments, not profile facts, and are left
    out.
    """
    facts = [_fact_text(m) for m in extract(user_message)]
    return list(dict.fromkeys(f for f in facts if f))


#: Kinds of match that make a moment worth a callback (the rest are profile facts).
_MOMENT_KINDS = ("feeling", "outcome", "event", "relation")


def moment(user_message: str) -> str:
    """A moment of this message worth bringing up later, third person, or ``""``.

    The first feeling, outcome, event or relation the user shares, as ``"Shared: <memory>"``
    (``"Shared: feels nervous about the interview (today)"``). Questions share nothing.
    """
    for match in extract(user_message):
        if match.kind not in _MOMENT_KINDS:
            continue
        memory = _memory_of(match)
        if memory is not None:
            content = memory[0]
            return "Shared: " + content[:1].lower() + content[1:]
    return ""


def memories(
    user_messages: Iterable[tuple[str, str]], *, remembered: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Long-term memories from the user's messages, given as ``(message_id, text)`` in order.

    Returns at most :data:`MAX_MEMORIES` dicts ``{"content", "category", "importance",
    "source_message_ids"}``; identical contents (case-insensitive) are merged and cite every
    source. Two readings, both third person without a subject:

    * what the patterns recognise (:func:`extract`): ``fact`` (lives/works/age/pet/life
      rhythm), ``preference`` (love/like/enjoy/hate…), ``event`` ("today I…", "I just…",
      how something turned out), ``emotion`` (feelings, personality traits), ``relation``
      ("my sister…", relationship status) — e.g. ``"Lives in Lisbon"``;
    * every other informative statement the user made (:func:`statements`): a sentence that
      is no question, greeting, thanks or acknowledgement, with a pronoun that starts it
      resolved to what the user last spoke of ("she's grey" after "we adopted a kitten" →
      "Their kitten is grey"), categorised by its cues.

    When there are more than ten, the recognised ones and then the most important
    statements (``memory.importance``-like cues: life words, names, numbers) are kept, in
    order of appearance.

    ``remembered`` (what is already known, most relevant first, as memories word it) gives
    the pronouns of a conversation that opens without naming anything their first referent:
    the first pet or person and the first thing named there ("Their dog is called Captain"
    → "we renamed him Waffles" is about their dog).
    """
    found: dict[str, dict[str, Any]] = {}
    order = 0
    subject = _spoken_of(remembered)
    for message_id, text in user_messages:
        candidates: list[tuple[str, str, int]] = []  # (content, category, rank: 0 = pattern)
        matches = extract(text)
        for match in matches:
            memory = _memory_of(match)
            if memory is not None:
                candidates.append((*memory, 0))
        covered = [content for content, _, _ in candidates]
        said, subject = statements(text, subject, covered=covered)
        candidates.extend((content, category, 1) for content, category in said)
        for content, category, rank in candidates:
            key = content.casefold()
            if key in found:
                sources = found[key]["source_message_ids"]
                if message_id not in sources:
                    sources.append(message_id)
                continue
            order += 1
            found[key] = {
                "content": content,
                "category": category,
                "source_message_ids": [message_id],
                "_rank": (rank, -_informative(content), order),
            }
    kept = sorted(found.values(), key=lambda m: m["_rank"])[:MAX_MEMORIES]
    kept.sort(key=lambda m: m["_rank"][2])
    return [{k: v for k, v in m.items() if k != "_rank"} for m in kept]


# A remembered memory naming a pet, a person or a thing: "Their dog is called Captain",
# "Their boat's name is Wanderer", "They … renamed their boat Wanderer".
_REMEMBERED_NAMED = re.compile(
    r"\b[Tt]heir (?P<n>[a-z]+)(?:'s name is| is (?:now )?(?:called|named)| are called)"
    r"|\b(?:called|named|renamed) their (?P<m>[a-z]+) (?-i:[A-Z])"
)


def _spoken_of(remembered: Sequence[str]) -> str:
    """The ``"being|thing|many"`` a conversation starts from (``statements``): the first pet
    or person, the first other thing and the first several ``remembered`` names."""
    being = thing = many = ""
    for content in remembered:
        for m in _REMEMBERED_NAMED.finditer(content):
            noun = (m.group("n") or m.group("m")).lower()
            if noun in PET_SPECIES or re.fullmatch(_RELATIONS, noun):
                being = being or f"their {noun}"
            elif noun.rstrip("s") in PET_SPECIES or re.fullmatch(_RELATIONS, noun.rstrip("s")):
                many = many or f"their {noun}"
            elif noun not in _VAGUE_OBJECTS | STOPWORDS:
                thing = thing or f"their {noun}"
    return f"{being}|{thing}|{many}"


# --- statements: what the patterns do not recognise, kept as the user said it (third person)

# A sentence: up to . ! ? ; or a newline, but not the point of "3.2 kg".
_SENTENCE = re.compile(r"(?:[^.!?;\n]|(?<=\d)\.(?=\d))+[.!?;]*")
# Sentences that say nothing about the user, whole: a question asked without its "?", a
# request to the companion, leave-taking, thanks for something, a greeting.
_NOT_A_STATEMENT = re.compile(
    r"^(?:(?:what|why|how|when|where|who|which)(?:'s| (?:should|do|does|did|can|could|would|"
    r"will|is|are|was|were|am|have|has)\b)|(?:should|can|could|would|will|do|does|did|is|are|"
    r"am) (?:i|you|we|they|he|she|it)\b|(?:please )?(?:tell|give|remind|help|show|teach|send|"
    r"sing|recommend|suggest|explain|describe|pick|imagine|say|talk|ask) (?:me|us|something|"
    r"anything|a|an|the)\b|gotta go|got to go|have to (?:run|go)|gtg|g2g|brb|ttyl|"
    r"(?:i )?(?:must|need to|better) go\b|let me go\b|"
    r"(?:thanks|thank you|thx|ty|cheers) (?:my|dear|mate|pal|love|hun|babe|friend)\b|"
    r"(?:off|going|heading) to (?:bed|sleep)|heading (?:off|out)|night night|sleep well|"
    r"(?:gonna|going to|i'm gonna|i'm going to) (?:try (?:and|to) )?(?:go|head|sleep|crash|log off|"
    r"info dump)\b|asking for a friend\b|"
    r"sleep on it\b|i'm off\b|"
    r"speak soon|catch you|(?:thanks|thank you|thx|ty|cheers) (?:for|so|again)\b|"
    # Apologies and replies that only make sense beside the other side's line.
    r"sorry (?!,)|of course\b|no worries\b|fair enough\b|good point\b|you're right\b)",
    re.IGNORECASE,
)
# A greeting, with the companion's name if any ("hi Noor, …"): dropped from the sentence,
# and the whole sentence when the user says nothing of their own after it.
_GREETING = re.compile(
    r"^(?:hi|hey|hello|hiya|hola|yo|heya|howdy|alright|sup|greetings|"
    r"(?:good )?(?:morning|evening|afternoon))\b"
    r"(?: (?-i:[A-Z])[\w'-]*)?[\s,!.]*",
    re.IGNORECASE,
)
_GREETING_OR_ACK = re.compile(
    r"^\W*(?:hi|hey|hello|hiya|morning|good (?:morning|night|evening)|gn|night|bye|ok(?:ay)?|"
    r"k+|yes|yeah|yep|nope|no|sure|thanks?(?: you)?(?: so much)?|thx|ty|lol|haha+|hehe|hm+|"
    r"cool(?: cool)?|nice|great|wow|omg|same|right|true|fair|aw+|oh|ah|ugh|whatever|sorry|"
    r"anyway|so|well|back again|i see|got it|fine|fair enough|ok fair|ok goodnight|"
    r"talk (?:tomorrow|soon|later)|see you|you too|me too|i know|guess what|"
    r"(?:big |some |good |bad |(?:a )?bit of )news|"
    r"(?:so |quick |small |little |big )?update(?: on (?:the |my |our )?[\w' ]+)?|btw|honestly|"
    r"lol)\b(?:[\s]*[,.!:;-]+[\s]*|\s*$)",
    re.IGNORECASE,
)
# Words that open a sentence without adding to it ("so I've taken up…", "well, the…").
_DISCOURSE = re.compile(
    r"^(?:(?:so|well|but|and|anyway|also|plus|oh|ah|ok|okay|then|honestly|basically|hmm+|um+|"
    r"though|still|lol|haha+|yeah|yep|yes|nah)\b[\s,]*|(?:no|i know|i mean|i guess|tbh|ngl)"
    r"\s*,\s*)+",
    re.IGNORECASE,
)
_TRAILING_QUESTION = re.compile(
    # Not "which" or "who", which more often go on with what came before (", which is…").
    r",\s*(?=(?:what|why|how|when|where)(?:'s| (?:do|does|did|is|are|was|were|"
    r"should|can|could|would|will|about)\b))",
    re.IGNORECASE,
)
# A short label before a colon ("massive news: I'm head chef now", "update: …").
_LABEL = re.compile(r"^[A-Za-z][\w' ]{0,24}:\s+(?=\S)")
# Laughter, an emoticon or leave-taking at the end ("…said yes haha", "…lol :)", "…, gotta
# go").
_TRAILING_LAUGH = re.compile(
    r"(?:[\s,]*(?:ha(?:ha)+|hehe+|lol|lmao|xd|:\)|:\(|:d|:p|;\)|thanks|thank you|thx|ty|"
    r"cheers|speak soon|talk (?:soon|later|tomorrow)|sorry(?: in advance)?|wish me luck|brb|"
    r"\b(?:right |ok |anyway )?(?:gotta go|got to go|have to (?:go|run)|gtg|g2g|ttyl|"
    r"bye(?: for now)?|chat soon)))+"
    r"\s*[.!]*$",
    re.IGNORECASE,
)
# A sentence about "it"/"that" the situation rather than the user ("it's as boring as it
# sounds", "that was so fun"): kept only with a life cue, a name or a first-person word.
_COMMENTARY = re.compile(r"^(?:it|it's|its|that|that's|this|this's)\b", re.IGNORECASE)
# "you" that is anyone, not the companion: "…and you can see the river from it".
_IMPERSONAL_YOU = re.compile(
    r"(?P<lead>(?:\b(?:and|where|so|if|when|because)|,)\s+)you"
    r"(?P<tail>\s+(?:can|could|can't|get|need to|have to|see|hear|feel)\b)",
    re.IGNORECASE,
)
_FIRST_PERSON = frozenset("i i'm i've i'd i'll my me mine myself we we're we've our us".split())
_YOU = frozenset("you you're your yours yourself u ur".split())
# "it" is left alone: it is more often the situation than the pet ("it's nice but…").
_PRONOUN_START = re.compile(
    r"^(?P<p>she|he|they)(?P<c>'s| is| was|'ll| will| has|'re| are| were)?(?=\s|$)", re.I
)
# A leading possessive for the last pet or person: "his kidneys were failing".
_POSSESSIVE_START = re.compile(r"^(?P<p>his|her)\b", re.I)
# "hi Noor, I've got news": a greeting that goes on with the user's own statement.
_FIRST_PERSON_STATEMENT = re.compile(r"\b(?:I|I'm|I've|my|we|we're|our)\b")
_SUBJECT_NOUN = re.compile(
    rf"\b(?:my|our|a|an|the|two|three|four|some) (?:[a-z-]+ ){{0,2}}?"
    rf"(?P<n>(?:{_PETS}|{_RELATIONS})s?)\b",
    re.IGNORECASE,
)
_TIME_CUES = re.compile(
    rf"\b(?:{_WHEN}|tomorrow|next \w+|last \w+|ago|on \w+day|all (?:day|week|weekend)|"
    r"this week|weekend)\b",
    re.I,
)
_RELATION_CUES = re.compile(rf"\b(?:{_RELATIONS}|{_PETS})\b", re.I)
_LIKE_CUES = re.compile(r"\b(?:love|loves|like|likes|enjoy|enjoys|favou?rite|hate|hates)\b", re.I)
_LIFE_CUES = re.compile(
    r"\b(?:work|job|live|moved|school|study|studied|born|allergic|vegetarian|vegan|married|"
    r"engaged|birthday|name|called|years|project|degree|teach|carry|always|never)\w*",
    re.IGNORECASE,
)


def _informative(content: str) -> int:
    """How much a statement says, for choosing among many: life cues, names, numbers."""
    words = content.split()
    score = 2 * bool(_LIFE_CUES.search(content)) + bool(re.search(r"\d", content))
    score += sum(1 for w in words[1:] if w[:1].isupper())
    return score + min(len(words), 12) // 4


# Something the user got or made ("bought an old sailing boat together" → "boat"): what a
# later "called it …" names.
_THING = re.compile(
    r"\b(?:bought|got|built|made|found|own|adopted|rescued|planted|inherited)\s+"
    r"(?:a|an|the|my|our|two|a new|an old)\s+(?:[a-z]+\s+){0,3}?(?P<n>[a-z]+)"
    r"(?=\s*(?:together|$|[,.!;]|\band\b|\bfor\b|\bfrom\b|\bwith\b|\bcalled\b|\bnamed\b))",
    re.IGNORECASE,
)
# A thing of the user's that is the subject ("my cactus is dying"): what a later "it" is.
_MY_THING = re.compile(
    r"\b(?:my|our) (?:[a-z]+ )?(?P<n>[a-z]{3,}) (?:is|was|has|keeps|looks|needs|broke)\b",
    re.IGNORECASE,
)
# "it's called Gerald", "she's named Pepper": a name for what the pronoun stands for.
_PRONOUN_NAMED = re.compile(
    r"^(?P<p>it|it's|its|she|she's|he|he's|they|they're)(?: is| was| are| were)?(?: now)?"
    r" (?:called|named) "
    r"(?P<v>[A-Z][\w'-]*(?: [A-Z][\w'-]*)?(?: (?:and|&) [A-Z][\w'-]*)?)\W*$",
    re.IGNORECASE,
)
# "I'm Kofi, …" opening a statement: the rest is the statement.
_INTRODUCTION = re.compile(
    r"^I(?:'m| am) (?!(?i:" + "|".join(sorted(_NOT_NAMES)) + r")\b)"
    r"[A-Z][^\W\d_]*[\w'-]*(?:,\s*| and\s+)(?=\S)"
)
# A naming with a pronoun for what is named ("renamed it Wanderer", "calling her Pepper").
_NAMING = re.compile(
    r"\b(?P<verb>called|calling|call|named|naming|renamed|renaming)\s+(?P<p>it|her|him)\s+"
    r"(?=(?:to\s+)?[A-Z])",
)


# What a pronoun earlier in the same sentence can stand for: "the boat" in "we repainted the
# boat and renamed it Wanderer" (possessive or definite, up to two words before the noun).
# The phrase must end its clause (",", "and", "then"): the subject of the naming itself ("the
# previous owner called it…") is not what is named.
_NEAR_THING = re.compile(
    r"\b(?:the|my|our|their) (?:[a-z]+ ){0,2}?(?P<n>[a-z]{3,})(?=\s*(?:,|\band\b|\bthen\b))",
)


def _resolve_naming(sentence: str, thing: str, being: str) -> str:
    """``"renamed it Wanderer"`` → ``"renamed their boat Wanderer"``: "it" is the last thing
    named earlier in the same sentence ("we repainted the boat and renamed it…"), else the
    last thing the user got; "her"/"him" the last pet or person they spoke of; unknown ones
    stay."""

    def swap(m: re.Match[str]) -> str:
        named = being
        if m.group("p").lower() == "it":
            near = [
                n.group("n").lower()
                for n in _NEAR_THING.finditer(sentence, 0, m.start())
                if n.group("n").lower() not in _VAGUE_OBJECTS | STOPWORDS
            ]
            named = f"their {near[-1]}" if near else thing
        return f"{m.group('verb')} {named} " if named else m.group(0)

    return _NAMING.sub(swap, sentence)


def _being(noun: str) -> str:
    """How a pronoun for the pet or person ``noun`` is written back: ``"their kitten"``, or
    a name as it is (``"Ffion"``)."""
    return noun if noun[:1].isupper() else "their " + noun.lower()


# A named one as the subject: "Ffion got her results", "and Nico moved…" (a capitalised word
# that is no pronoun, day or month, then a verb).
_NAMED_SUBJECT = re.compile(
    r"(?:^|[,;]\s*)(?:(?:and|but|so|then)\s+)?(?P<n>(?-i:[A-Z])[a-z][\w-]+)(?P<s>'s)? "
    r"(?P<v>[\w']+)"
)
_NOT_SUBJECT_NAMES = frozenset(
    "i the my our their his her this that these those it he she they we you monday tuesday "
    "wednesday thursday friday saturday sunday january february march april may june july "
    "august september october november december today tomorrow yesterday".split()
)


# Family spoken of without "my" ("dad's agreed to sell the farm", "Mum rang").
_BARE_KIN = re.compile(
    r"^(?:(?:and|so|but|well|oh)\s+)?(?P<n>mum|mom|mam|dad|nan|nana|gran|granny|grandad|grandma|"
    r"grandpa)(?='s\b|\s)",
    re.IGNORECASE,
)


def _spoken_of_in(text: str) -> str | None:
    """The pet, person or named one ``text`` speaks of first (how a later pronoun is written
    back), or None: "my kitten…" → ``"their kitten"``, "Ffion got her results" → ``"Ffion"``."""
    named = _SUBJECT_NOUN.search(text) or _BARE_KIN.match(text)
    if named:
        return _being(named.group("n"))
    for m in _NAMED_SUBJECT.finditer(text):
        verb = m.group("v").lower()
        # "Leila's moving", "Nico's moved": "'s" is "is" or "has" before a verb form.
        contracted = m.group("s") and (verb.endswith("ing") or _before_participle([verb]))
        if m.group("n").lower() not in _NOT_SUBJECT_NAMES and (
            (not m.group("s") and _verb_like(verb)) or contracted
        ):
            return m.group("n")
    return None


def _is_commentary(body: str, words: Sequence[str]) -> bool:
    """Whether ``body`` only remarks on the situation ("it's as boring as it sounds")."""
    if not _COMMENTARY.match(body) or set(words) & _FIRST_PERSON:
        return False
    return not any(w[:1].isupper() for w in body.split()[1:])


def _stems(text: str) -> set[str]:
    """Content words of ``text`` cut to 4 letters ("loves" and "love" agree)."""
    words = (bare(w).strip(",.!?;:") for w in text.split())
    return {w[:4] for w in words if len(w) >= 4 and w not in STOPWORDS and w not in _FILLERS}


# Words that add nothing a memory needs ("I love hiking, honestly").
_FILLERS = frozenset("honestly really actually basically literally totally pretty kinda".split())


def statements(
    text: str, subject: str = "", *, covered: Sequence[str] = ()
) -> tuple[list[tuple[str, str]], str]:
    """The informative statements of one message as ``(content, category)``, and what the
    user last spoke of (``"their kitten|their boat|their kids"``: the last pet or person, the
    last thing they got, the last several), carried to the next message.

    A sentence is skipped when it is a question, a request to the companion, leave-taking,
    thanks, a greeting or an acknowledgement. What is left is cut into clauses where a new
    subject starts (``"I'm a chef, we did 140 covers tonight"`` → two statements; see
    :func:`clauses`), so each memory says one thing. A clause is skipped when the pattern
    memories of the message (``covered``) hold all its content words or it is about the
    companion rather than the user (it says "you" and nothing in the first person). One too
    slight to stand alone (short and naming nothing, or only remarking on "it" or "that")
    joins the statement of the same message it follows, or else the next one ("results are
    back. it's benign!!" → ``"Results are back, it's benign"``), and is skipped when the
    message states nothing else. A leading ``I`` goes (``"I teach
    maths"`` → ``"Teaches maths"``), other first-person words become third person, a leading
    she/he/they or his/her is replaced by the last pet or person, and the pronoun of a naming
    by what it names (``"renamed it Wanderer"`` → ``"renamed their boat Wanderer"``).
    """
    out: list[tuple[str, str]] = []
    # A clause too slight to stand alone joins the statement it follows, or the next one.
    last: tuple[int, str, str, str, str] | None = None  # (index in out, clause, context)
    waiting: list[str] = []
    being, thing, many = ([*subject.split("|"), "", ""])[:3]
    covered_stems = set().union(*(_stems(c) for c in covered)) if covered else set()
    for found in _SENTENCE.finditer(normalise(text)):
        sentence = " ".join(found.group(0).split())
        sentence = _resolve_naming(sentence, thing, being)
        got = _THING.search(sentence) or _MY_THING.search(sentence)
        if got and got.group("n").lower() not in _VAGUE_OBJECTS | STOPWORDS:
            thing = "their " + got.group("n").lower()
        pieces = clauses(_statement_body(sentence))
        for clause in pieces:
            before = (being, many)
            said, being, many, weak = _statement(clause, being, many, thing, covered_stems)
            if said is not None:
                if waiting:
                    clause = ", ".join([*waiting, clause])
                    said = _joined(clause, before[0], being, before[1])
                    waiting = []
                out.append(said)
                last = (len(out) - 1, clause, before[0], being, before[1])
            elif weak and _said_already(clause, covered):
                continue
            elif weak and last is not None:
                at, kept, *context = last
                last = (at, f"{kept}, {clause}", *context)
                out[at] = _joined(last[1], *context)
            elif weak:
                waiting.append(clause)
        if not pieces:
            # A question or "update on the kitten": nothing to keep, but the kitten is what
            # a later "she" stands for.
            being, many = _note(_spoken_of_in(sentence), being, many)
    return out, f"{being}|{thing}|{many}"


def _statement_body(sentence: str) -> str:
    """What of ``sentence`` may state something, or "" for a sentence that states nothing
    (a question, a request, leave-taking, a greeting with nothing of the user's after it)."""
    if sentence.endswith("?") or not sentence or _NOT_A_STATEMENT.match(sentence):
        return ""
    if _GREETING.match(sentence):
        if not _FIRST_PERSON_STATEMENT.search(sentence):
            return ""
        sentence = _GREETING.sub("", sentence)
    body = _GREETING_OR_ACK.sub("", sentence).strip(" ,.!;:-")
    body = _TRAILING_LAUGH.sub("", _DISCOURSE.sub("", _LABEL.sub("", body))).strip(" ,.!;:-")
    if _NOT_A_STATEMENT.match(body):
        return ""
    # A question asked after a comma without its "?" ("enough about me, what's it like…").
    body = _TRAILING_QUESTION.split(body, maxsplit=1)[0].strip(" ,")
    body = _IMPERSONAL_YOU.sub(r"\g<lead>one\g<tail>", body)
    return _INTRODUCTION.sub("", body)  # the name is a pattern memory already


def _plural(spoken: str) -> bool:
    """Whether what was spoken of is several ("their rabbits", "their kids")."""
    return spoken.startswith("their ") and spoken.endswith("s") and not spoken.endswith("ss")


def _note(spoken: str | None, being: str, many: str) -> tuple[str, str]:
    """``(being, many)`` after speaking of ``spoken``: "she"/"he" stand for the last one
    spoken of, "they" for the last several."""
    if not spoken:
        return being, many
    return (being, spoken) if _plural(spoken) else (spoken, many)


def _statement(
    clause: str, being: str, many: str, thing: str, covered_stems: set[str]
) -> tuple[tuple[str, str] | None, str, str, bool]:
    """One clause as ``(content, category)`` or None, the one and the several spoken of after
    it, and whether a clause left out is only too slight to stand alone (``statements``)."""
    spoken = _spoken_of_in(clause)
    after, after_many = _note(spoken, being, many)

    # What the patterns already read is not said twice.
    if covered_stems and _stems(clause) <= covered_stems:
        return None, after, after_many, False
    naming = _PRONOUN_NAMED.match(clause)
    if naming:
        pronoun = naming.group("p").lower()
        named_thing = thing if pronoun.startswith("it") else being
        if pronoun.startswith("they"):
            named_thing = many
        if not named_thing:
            return None, after, after_many, False
        verb = "are" if naming.group("p").lower().startswith("they") else "is"
        said = (f"{capitalise(named_thing)} {verb} called {naming.group('v')}", "fact")
        return said, after, after_many, False
    words = [bare(w) for w in clause.split()]
    if set(words) & _YOU and not set(words) & _FIRST_PERSON:
        return None, after, after_many, False  # about the companion
    content_words = [w for w in words if len(w) >= 4 and w not in STOPWORDS]
    # Short is fine when it names something ("passed the SQE", "the MRI was clear"): a
    # capital inside, or an abbreviation anywhere.
    named_inside = any(w[:1].isupper() and w != "I" for w in clause.split()[1:])
    named_inside = named_inside or any(_ABBREVIATION.fullmatch(w) for w in clause.split())
    # A she/he that stands for someone named before names them too ("he's an engineer").
    named_inside = named_inside or bool(being and words[0] in _THIRD_PERSON_PRONOUNS)
    # "I quit pottery" says something in three words: a verb of the user's own and its object;
    # "graduated today" in two: a past the user left their "I" off.
    own = words[0] in {"i", "i've", "i'm"}
    done = is_past(words[0]) and words[0] not in _SLIGHT_PAST and len(words[0]) >= 5
    done = done and not FEELING_WORD.search(words[0])  # "terrified tbh" is a feeling
    short = len(words) < 3 or (len(words) < 4 and not (named_inside or own))
    short = short and not (done and len(words) == 2)
    # One content word is enough beside a name, a word of the user's life ("they offered me
    # the job"), or in a longer line of the user's own ("I have quit the gym"); a three-word
    # line needs two ("I quit pottery", not "I'm so done").
    life = bool(_LIFE_CUES.search(clause)) and len(words) >= 4
    enough = 2 - (named_inside or life or done or (own and len(words) >= 4))
    # A short line about "that one" needs the other side's line to mean anything, and a
    # slight one ending on it ("I don't know why I'm doing this") joins nothing.
    pointing = words[-1] in {"it", "that", "this", "one", "them", "those"}
    if (len(words) < 5 and pointing) or short or len(content_words) < enough:
        return None, after, after_many, not pointing
    if _is_commentary(clause, words):
        return None, after, after_many, not pointing
    said = _joined(clause, being, after, many)
    return said, after, after_many, False


# Pasts that say too little without their object ("loved", "tried", "agreed"), and feelings
# that look like pasts ("terrified tbh").
_SLIGHT_PAST = frozenset(
    "loved liked hated wanted needed missed tried agreed guessed laughed cried said thought "
    "knew meant forgot figured noticed asked answered replied texted called "
    "terrified petrified horrified gutted thrilled delighted knackered shattered stoked "
    "chuffed devastated obsessed pleased amazed shocked surprised".split()
)
# An abbreviation or a shouted word: "MRI", "GCSEs", "A*AA".
_ABBREVIATION = re.compile(r"[A-Z][A-Z*&]+s?\W*")


def _said_already(clause: str, covered: Sequence[str]) -> bool:
    """Whether a pattern memory of the message says ``clause`` ("my mum is 71" → "Their mum
    is 71")."""
    said = _third_person_statement(clause, "", "").casefold()
    return any(said in c.casefold() for c in covered)


def _joined(clause: str, being: str, after: str, many: str) -> tuple[str, str] | None:
    """``clause`` as a third-person ``(content, category)`` (None when nothing is left)."""
    content = _third_person_statement(clause, being, after, many=many)
    return (content, _statement_category(content)) if content else None


# Where a clause may end: a comma or semicolon (with "and", "but" or "so" after it), or
# "and" / "but" alone.
_CLAUSE_BREAK = re.compile(r"(?:[,;]\s*(?:(?:and|but|so)\s+)?|\s+(?:and|but)\s+)", re.IGNORECASE)
_SUBJECT_PRONOUNS = frozenset(
    "i i'm i've i'd i'll we we're we've we'd he he's she she's they they're they've".split()
)
_I = frozenset("i i'm i've i'd i'll".split())
# Someone else's clause ("…lives in Toronto, he's an engineer") is a memory of its own.
_THIRD_PERSON_PRONOUNS = frozenset("he he's she she's".split())


def clauses(body: str, *, pronouns: bool = False) -> list[str]:
    """``body`` cut where a new clause with its own subject starts, each clause trimmed.

    A break (``,``, ``;``, ``and``, ``but``, ``, so``) is a cut only when what follows starts
    with ``my``/``our``/``their`` or a capitalised name followed, within four words, by a
    verb, and what it leaves behind has three words or more: ``"my sister Ana is a nurse, my
    brother lives in Leeds"`` → two clauses; ``"I live with my mum and my dog"``, ``"Tom and
    Jerry went…"`` and ``"grey with white paws"`` stay whole. With ``pronouns``, a subject
    pronoun (``I``, ``we``, ``she``…) starts a clause too; without, the user's own clauses
    stay together, since each needs the other's context ("I'm seeing someone new, we met at
    a pottery class"), and only an ``I`` after someone else's clause starts one ("Kwame's
    moving to Leeds and I want to be around" → two; "my grandson and I have an allotment" and
    "Waffles ate chocolate, we had to rush him to the vet" stay whole).
    """
    cuts = [0]
    for m in _CLAUSE_BREAK.finditer(body):
        rest = body[m.end() :].split()
        if not rest or m.start() == 0:
            continue
        first = bare(rest[0])
        left = body[cuts[-1] : m.start()]
        if first in _THIRD_PERSON_PRONOUNS or (pronouns and first in _SUBJECT_PRONOUNS):
            starts_subject = True
        elif first in _I and _someone_elses(left):
            # The user after someone else ("Kwame's moving to Leeds and I want to be there");
            # "we" goes on with the same people ("Waffles ate chocolate, we had to…").
            starts_subject = True
        elif first in {"my", "our", "their"} or (
            rest[0][:1].isupper() and first not in STOPWORDS | _SUBJECT_PRONOUNS
        ):
            # A verb within four words, with something after it ("my sister Ana is…", not
            # "…and my parents").
            starts_subject = any(_verb_like(w) for w in rest[1 : min(5, len(rest) - 1)])
        else:
            starts_subject = False
        # The clause left behind must be one too ("Tom and Jerry went…" is one subject).
        if starts_subject and len(left.split()) >= 3:
            cuts.append(m.start())
            cuts.append(m.end())
    cuts.append(len(body))
    pieces = [body[a:b].strip(" ,;") for a, b in zip(cuts[::2], cuts[1::2], strict=True)]
    return [p for p in pieces if p]


def _someone_elses(clause: str) -> bool:
    """Whether ``clause`` opens with someone other than the user as its subject ("my sister
    is…", "Kwame's moving…"), not the user ("I…", "we…", "turned it down…")."""
    words = clause.split()
    if not any(_verb_like(w) for w in words[1:]):
        return False  # "my grandson Alfie and I have…": one subject, the user among it
    if _SUBJECT_NOUN.match(clause) or _BARE_KIN.match(clause):
        return True
    if not words or bare(words[0]) in _FIRST_PERSON or bare(words[0]) in _SUBJECT_PRONOUNS:
        return False
    return _spoken_of_in(" ".join(words[:2])) is not None


# "she's" / "he is" opening a clause after a comma.
_CLAUSE_PRONOUN = re.compile(r"(?P<lead>,\s+)(?:she|he)(?P<c>'s|\s+is|\s+was|\s+has)\s+", re.I)
_LINKS = {"'s": "is", "is": "is", "was": "was", "has": "has", "'ll": "will", "will": "will"}
_LINKS |= {"'re": "are", "are": "are", "were": "were"}


def _link(contraction: str | None, rest: Sequence[str]) -> str:
    """The verb a pronoun's ``contraction`` stands for once the pronoun is a noun ("'s" →
    "is", or "has" before a participle: "she's never had…"); "" for none."""
    link = _LINKS.get(" ".join((contraction or "").split()).lower(), "")
    if link == "is" and contraction == "'s" and _before_participle(rest):
        return "has"
    return link


def _before_participle(words: Sequence[str]) -> bool:
    """Whether ``words`` start, after adverbs, with a past participle ("never had", "been")."""
    for word in words:
        low = word.lower()
        if low in ADVERBS:
            continue
        return low in {"been", "had", "got", "gotten", "done", "gone", "seen"} or (
            is_past(low) and low not in {"went", "was", "were", "did", "saw", "came", "ran"}
        )
    return False


# "I was" became "they was": the verb agrees with "they" again.
_THEY_AGREEMENT = [
    (r"\b([Tt]hey) was\b", r"\1 were"),
    (r"\b([Tt]hey) wasn't\b", r"\1 weren't"),
    (r"\b([Tt]hey) has\b", r"\1 have"),
    (r"\b([Tt]hey) does\b", r"\1 do"),
    (r"\b([Tt]hey) doesn't\b", r"\1 don't"),
]


def _third_person_statement(body: str, subject: str, within: str = "", *, many: str = "") -> str:
    words = body.rstrip(".!;").split()
    first = words[0].lower()
    if first in {"i", "i'm", "i've", "i'd", "i'll", "im"}:
        lead = {"i'm": "is", "im": "is", "i've": "has", "i'd": "would", "i'll": "will"}
        if first == "i":
            rest = words[1:]
            if not rest:
                return ""
            # Adverbs before the verb stay as they are ("I never learned" → "Never learned").
            at = 0
            while at < len(rest) - 1 and (
                rest[at].lower() in ADVERBS
                or (rest[at].lower() == "no" and rest[at + 1].lower() == "longer")
                or (rest[at].lower() == "longer" and at and rest[at - 1].lower() == "no")
            ):
                at += 1
            words = [*(w.lower() for w in rest[:at]), third_person_verb(rest[at]), *rest[at + 1 :]]
        else:
            words = [lead[first], *words[1:]]
    elif subject and _POSSESSIVE_START.match(first):
        words = [f"{subject}'s", *words[1:]]
    else:
        m = _PRONOUN_START.match(" ".join(words))
        if m and m.group("p").lower() == "they":
            subject = many  # "they" is the last several spoken of, if any
        if m and subject:
            rest = " ".join(words)[m.end() :].split()
            verb = _link(m.group("c"), rest)
            words = [subject, *([verb] if verb else []), *rest]
    joined = " ".join(words)
    if within:
        # A she/he opening a later clause stands for the one this line spoke of ("Ffion got
        # her results, she's off to…").
        def name(m: re.Match[str]) -> str:
            return f"{m.group('lead')}{within} {_link(m.group('c'), joined[m.end() :].split())} "

        joined = _CLAUSE_PRONOUN.sub(name, joined)
    text = swap_person(joined, THIRD_PERSON)
    text = re.sub(r"\bwe\b", "they", text, flags=re.IGNORECASE)
    for wrong, right in _THEY_AGREEMENT:
        text = re.sub(wrong, right, text)
    text = re.sub(r"\bour\b", "their", text, flags=re.IGNORECASE)
    return capitalise(text)


def _statement_category(content: str) -> str:
    if FEELING_WORD.search(content) and not _LIFE_CUES.search(content):
        return "emotion"
    if _LIKE_CUES.search(content):
        return "preference"
    if _TIME_CUES.search(content):
        return "event"
    if _RELATION_CUES.search(content):
        return "relation"
    return "fact"


def _fact_text(m: Match) -> str | None:
    if m.kind == "name":
        return f"goes by {m.value}"
    if m.kind == "place":
        return f"lives in {m.value}"
    if m.kind == "retired":
        return "is retired"
    if m.kind == "job":
        return f"works as {with_article(m.value)}"
    if m.kind == "workplace":
        return f"works at {m.value}"
    if m.kind == "like":
        return f"likes {m.value}"
    if m.kind == "dislike":
        return f"dislikes {m.value}"
    if m.kind == "pet":
        return f"has {with_article(m.extra)} called {m.value}"
    if m.kind == "age":
        return f"is {m.value} years old"
    if m.kind == "status":
        return m.value
    if m.kind == "rhythm":
        return f"is {with_article(m.value)}"
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


def _memory_of(m: Match) -> tuple[str, str] | None:
    """(content, category) for one match; content is subject-less third person."""
    if m.kind in ("like", "dislike"):
        return capitalise(f"{_PREFERENCE_VERBS[m.extra]} {m.value}"), "preference"
    if m.kind == "trait":
        return f"Is {m.value}", "emotion"
    if m.kind == "feeling":
        verb = {"felt": "Felt", "was": "Felt", "'ve been": "Has been feeling"}
        verb |= {"have been": "Has been feeling"}
        return f"{verb.get(m.extra, 'Feels')} {m.value}", "emotion"
    if m.kind == "outcome":
        return capitalise(m.value), "event"
    if m.kind == "event":
        content = capitalise(m.value)
        return (f"{content} ({m.extra})" if m.extra else content), "event"
    if m.kind in ("relation", "status"):
        return capitalise(m.value), "relation"
    if m.kind == "name":
        return f"Their name is {m.value}", "fact"
    if m.kind == "pet":
        # Named by species, so "my dog's name" finds the puppy ("Their dog is called Bramble").
        species = PET_SPECIES.get(m.extra, m.extra)
        young = f" (a {m.extra})" if species != m.extra else ""
        return f"Their {species} is called {m.value}{young}", "fact"
    fact = _fact_text(m)
    return (capitalise(fact), "fact") if fact else None


_STRUCTURE_RES = [
    ("preferred_name", re.compile(r"^goes by (?P<v>.+)$", re.IGNORECASE)),
    ("city", rx(r"^lives in (?P<v>.+)$")),
    ("occupation", rx(r"^works as (?:an? )?(?P<v>.+)$")),
    ("occupation", rx(r"^is (?:now )?(?P<v>retired)$")),
    ("interests", rx(r"^(?:likes|loves|enjoys|adores|is into) (?:to )?(?P<v>.+)$")),
    ("life_rhythm", rx(rf"^is an? (?P<v>{_RHYTHMS})$")),
    ("personality_traits", rx(rf"^is (?:an? )?(?P<v>{_TRAITS})$")),
]


def profile_fields(facts: Sequence[str], existing: Mapping[str, Any]) -> dict[str, Any]:
    """The profile fields ``facts`` fill, given the ``existing`` profile (insight step 2).

    Reads facts in the shapes :func:`insight_facts` writes. Returns only what it can fill, in
    this order: ``preferred_name`` (str, from "goes by …", the latest wins), ``city`` (str, the
    latest wins), ``occupation`` (str), ``interests``
    (existing + new, de-duplicated case-insensitively; present only when something is new),
    ``life_rhythm`` (str), ``personality_traits`` (same merge rule). ``{}`` when nothing
    applies.
    """
    found: dict[str, Any] = {}
    interests: list[str] = []
    traits: list[str] = []
    for fact in facts:
        text = rust_trim(normalise(fact)).rstrip(".")
        for field, pattern in _STRUCTURE_RES:
            m = pattern.match(text)
            if not m:
                continue
            value = m.group("v").strip()
            if field == "preferred_name":
                found["preferred_name"] = value  # the latest wins
            elif field == "city":
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
    order = ["preferred_name", "city", "occupation", "interests", "life_rhythm"]
    order.append("personality_traits")
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
