"""Slot rules: which current fact a memory is a value of, so a newer value supersedes it.

A *slot* is one thing about the user that holds one value at a time: where they live, their
job (a job with where it is done is the job: "Is sous chef at Zaatar" → ``sous chef``), their
workplace, the name they go by, their age, their relationship status (dating, engaged,
separated, divorced…), a pet's name (one slot per species), a named thing's name
(``name:boat``), or a live concern: a worry ("worried about mum's surgery") or an outcome
awaited with when it comes ("the hearing is on the 2nd of May", "results in two weeks"),
settled by the later memory that names it. Two current
memories of the same slot with different values disagree, and the newer one (in event time)
supersedes the older (DESIGN §7). This is the offline path's whole rule set; a model path
decides from the candidates it is shown, and these rules stay as the safety net for the slots
the insight profile also holds (:data:`PROFILE_SLOTS`), so memories and profile agree.

The rules read memory texts as eros writes them, third person and usually subject-less
("Lives in Lisbon", "Has a dog called Biscuit"), and tolerate a leading subject ("The user
lives in…", "She goes by…"). English only; anything else has no slot, which only means it is
never superseded by rule.

A named person the user talks about has slots of their own, ``city:<name>`` and
``occupation:<name>`` (the given name, lower case; never the user's ``city`` or
``occupation``): a memory whose subject is a name, maybe introduced ("Their brother Nico",
"Nico's wife Kayla", "Aunt Rosa"; "Nico and his wife Kayla" is Nico), followed by where they
live ("lives in Phoenix", "moved up to Denver") or their job ("is a firefighter", "works as a
nurse", "got promoted to captain"). Only a memory about that one fact has the slot, since
superseding it must lose nothing else: after the value there may be a time or a place of work
("last week", "at her station"), but no second clause (a comma, a semicolon, another sentence,
"and", "but", "who", "which", "because"…), and a job followed by "in <Place>" also tells where
they live. "Their sister Marisol is a firefighter in Tucson, their twin brother Nico lives in
Phoenix and just had a baby girl" has no slot. A name as subject with anything else to say
("Sam has a beagle called Biscuit") is read by the user's rules, as before.

"Quit pottery" or "Quit smoking" is no workplace: giving up an activity is ``memory.stops``'s,
whose reading decides which "quit" is work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eros.llm.offline.extraction import PET_SPECIES, is_occupation
from eros.signals import normalise_value
from memory.stops import stops

#: Profile fields (``insights.schema``) that mirror a slot: the field and the live memory of
#: that slot must agree.
PROFILE_SLOTS = {"city": "city", "occupation": "occupation", "preferred_name": "name"}
#: Prefix of a concern slot (``concern:<subject word>``).
CONCERN = "concern:"
#: Prefixes of a named person's slots (``city:nico``, ``occupation:marisol``).
PERSON_CITY, PERSON_OCCUPATION = "city:", "occupation:"

# One slot per species: a puppy renamed is the dog renamed, a golden retriever is a dog.
_PETS = "|".join(re.escape(w) for w in sorted(PET_SPECIES, key=len, reverse=True))
_VERBISH = (
    r"is|was|has|had|lives|works|moved|goes|got|just|now|recently|renamed|turned|started|"
    r"became|broke|feels|felt"
)
# A leading subject: "The user", "They", "She", or a name followed by a verb ("Sam lives…").
_SUBJECT = (
    r"^(?:(?:[Tt]he )?[Uu]ser(?:'s)?|[Tt]hey|[Ss]he|[Hh]e|"
    rf"(?!(?:{_VERBISH})\b)(?i:(?!{_VERBISH}\b))[A-Z][\w'-]{{1,29}}(?= (?:{_VERBISH})\b)) "
)
_CALENDAR = (
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|"
    r"May|June|July|August|September|October|November|December|Today|Tomorrow|Yesterday)"
)
_END = r"(?=$|[.,;!?(]| (?:with|and|but|since|now|for|near|because|after|last|this|next)\b)"
_VALUE = rf"(?P<v>[^.,;!?()]+?){_END}"

_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "name",
        re.compile(rf"^(?:goes by|is called|prefers to be called|likes to be called) {_VALUE}"),
    ),
    # "Her name is Hana" in a memory is someone else's name, not the user's.
    ("name", re.compile(rf"^(?:'s |s |their )?name is {_VALUE}")),
    (
        "pet",
        re.compile(
            rf"^(?:has|had|got|adopted|now has|just got|just adopted) (?:an?|two|a new) "
            rf"(?:\w+ )??(?P<s>{_PETS}) (?:called|named) {_VALUE}"
        ),
    ),
    (
        "pet",
        re.compile(
            rf"^(?:their|his|her|the) (?:new )?(?P<s>{_PETS})(?:'s name is(?: now)?|'s called|"
            rf" is (?:now )?(?:called|named)) {_VALUE}"
        ),
    ),
    (
        "pet",
        re.compile(rf"^(?:just )?renamed (?:their|his|her|the) (?P<s>{_PETS}) (?:to )?{_VALUE}"),
    ),
    (
        "city",
        re.compile(
            rf"^(?:now |currently |still |just |recently )?(?:lives|is living|is based|resides|"
            rf"has moved|moved|has relocated|relocated|is moving) (?:in|to) "
            # A place, not a day or month ("moved in Saturday") or a companion ("moved in
            # with…") or a kind of home ("lives in a tiny flat").
            rf"(?!(?i:{_CALENDAR}|with|a|an|their|his|her|my|our|some|there|here)\b){_VALUE}"
        ),
    ),
    (
        "occupation",
        re.compile(
            rf"^(?:now |currently |still |just |recently )?(?:works as|is working as|"
            rf"started working as|got a job as|has a new job as|became|is now) (?:an? )?{_VALUE}"
        ),
    ),
    # "Teaches maths at a secondary school": teaching somewhere is the job.
    (
        "occupation",
        re.compile(
            r"^(?:now |still |currently )?(?P<v>teach(?:es)? [^.,;!?()]+?) (?:at|in) (?:an? |the )?"
            r"(?:[\w'-]+ ){0,2}(?:school|college|university|academy|nursery|kindergarten)\b"
        ),
    ),
    ("occupation", re.compile(rf"^is an? (?P<v>[^.,;!?()]+?){_END}")),
    # "Is sous chef at Zaatar": a job named without its article.
    ("occupation", re.compile(rf"^is (?!an? )(?:now )?(?P<v>[^.,;!?()]+?){_END}")),
    ("occupation", re.compile(rf"^(?:is (?:now )?|has |just )?(?P<v>retired){_END}")),
    (
        "workplace",
        re.compile(rf"^(?:now |currently |still )?(?:works|is working) (?:at|for) {_VALUE}"),
    ),
    (
        "workplace",
        re.compile(
            rf"^(?:just |finally )?(?P<v>(?:quit|left|resigned from|got fired from|was laid off "
            rf"from) (?:their job (?:at |as )?)?(?:the |their )?[^.,;!?()]+?){_END}"
        ),
    ),
    # "Is 38" or "Is 38 years old", not "Is 38 weeks pregnant".
    (
        "age",
        re.compile(
            r"^(?:is|just turned|turned) (?P<v>\d{1,3})(?: years old| years of age)?"
            r"(?=$|[.,;!?(]| (?:and|but|now|today)\b)"
        ),
    ),
    (
        # "has been seeing this guy Tomás" is dating Tomás (the value is "dating <name>").
        "relationship_status",
        re.compile(
            r"^(?:is|has been) (?:seeing|dating) (?:(?:this|a|an) (?:guy|girl|man|woman|boy|lady|"
            r"person) )?(?:called |named )?(?P<who>[A-Z][\w'-]{1,29})\b"
        ),
    ),
    (
        "relationship_status",
        re.compile(
            r"^(?:is |got |just got )?(?P<v>single|married|engaged|divorced|separated|widowed|"
            r"getting divorced|getting married|"
            r"in a relationship|dating [^.,;!?]+|broke up with [^.,;!?]+|"
            # Someone unnamed: "seeing someone new, her name is Leonor" names them.
            r"seeing someone(?![^.;!?]*\bname(?:'s| is)\b)|"
            r"has a (?:boyfriend|girlfriend|partner|husband|wife|fiancée?)(?: (?:called|named) "
            r"[^.,;!?]+)?)"
        ),
    ),
]
_IS_A = next(i for i, (_, p) in enumerate(_RULES) if p.pattern.startswith("^is an? "))
_IS_BARE = next(i for i, (_, p) in enumerate(_RULES) if p.pattern.startswith("^is (?!an? )"))
# Where a job is done, after the job ("… at a Lebanese restaurant", "… in Leeds").
_JOB_PLACE = re.compile(r" (?:at|in|for|with|on|from) ")
# What a job named without an article never holds: an article, or a verb in "-ing" first.
_NOT_BARE_JOB = re.compile(r"\b(?:an?|the|their|his|her|my)\b|^\w+ing\b")
_QUIT = next(i for i, (k, p) in enumerate(_RULES) if k == "workplace" and "quit" in p.pattern)

# --- a named person's where and job (module docstring) ---
# A capitalised word; "'s" after it is "has" or a possessive, not the name ("Nico's moved").
_NAME_WORD = r"[A-Z](?:[\w-]|'(?!s\b)){1,29}"
_TITLE = r"(?:Aunt|Auntie|Aunty|Uncle|Cousin|Grandma|Grandpa|Granny|Nana|Nan|Dr|Mr|Mrs|Ms|Miss)"
# "Their twin brother ", "The user's sister ", "Nico's wife ": who the person is to someone.
_INTRO = rf"(?:(?:[Tt]he user's|[Tt]heir|[Hh]is|[Hh]er|{_NAME_WORD}'s) (?:[a-z][\w'-]* ){{1,3}})"
_PERSON = (
    rf"^{_INTRO}?(?:{_TITLE}\.? )?(?P<who>{_NAME_WORD})(?: {_NAME_WORD})?"
    rf"(?: and (?:(?:his|her|their) (?:[a-z][\w'-]* ){{1,3}})?{_NAME_WORD}(?: {_NAME_WORD})?)?"
    r"(?:'s)? "
)
_PERSON_ADVERBS = r"(?:(?:now|currently|still|just|recently|finally|also|both|has|have|had) )*"
# Where a named person's value ends: what may follow it without a second fact.
_PERSON_END = (
    r"(?=$|[.,;:!?(]| (?:in|at|for|with|on|from|near|and|but|since|now|because|after|last|this|"
    r"next|who|which|so|while|though|although)\b)"
)
_PERSON_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        PERSON_CITY,
        re.compile(
            rf"{_PERSON}{_PERSON_ADVERBS}(?:lives|live|is living|are living|is based|are based|"
            r"resides|reside|has moved|have moved|moved|has relocated|have relocated|relocated|"
            r"is moving|are moving|moving)(?: (?:up|down|out|back|over|across|away))?"
            # "moving back from Toronto to Leeds": where from, then where to.
            r"(?: from (?:the )?[A-Z][\w'-]*(?: [A-Z][\w'-]*)*)? (?:in|to) "
            rf"(?P<v>(?:the )?[A-Z][\w'-]*(?: [A-Z][\w'-]*)*){_PERSON_END}"
        ),
    ),
    (
        PERSON_OCCUPATION,
        re.compile(
            rf"{_PERSON}{_PERSON_ADVERBS}(?:works|work|is working|has been working|started "
            r"working|got a job|has a new job|is now working) as (?:an? )?"
            rf"(?P<v>[\w'-]+(?: [\w'-]+){{0,3}}?){_PERSON_END}"
        ),
    ),
    (
        PERSON_OCCUPATION,
        re.compile(
            rf"{_PERSON}{_PERSON_ADVERBS}(?:got |was |has been |been |just got )?promoted to "
            rf"(?:an? |the )?(?P<v>[\w'-]+(?: [\w'-]+){{0,3}}?){_PERSON_END}"
        ),
    ),
    # "is a firefighter", "became a nurse": a job only if the slot rules' job words say so.
    (
        PERSON_OCCUPATION,
        re.compile(
            rf"{_PERSON}{_PERSON_ADVERBS}(?:is|became|has become|become) (?:now )?an? "
            rf"(?P<v>[\w'-]+(?: [\w'-]+){{0,3}}?){_PERSON_END}"
        ),
    ),
    (PERSON_OCCUPATION, re.compile(rf"{_PERSON}(?:is (?:now )?|has |just )?(?P<v>retired)\b")),
]
# Capitalised words that open a sentence without naming anyone ("Recently moved to Leeds").
_NOT_PERSONS = frozenset(
    "I He She They It We You The A An This That These Those Their His Her Its Our My Your "
    "User Someone Somebody Everyone Everybody Nobody Everything Nothing Both Also Just Now "
    "Recently Currently Still Finally Already Actually Apparently Eventually Basically Probably "
    "Maybe Really Soon Then Today Tonight Yesterday Tomorrow Last Next Sadly Luckily Hopefully "
    "Honestly Officially Suddenly Only Even Never Always Often Sometimes Usually Mostly Anyway "
    "Meanwhile Later Once Originally Initially Definitely Literally Obviously Clearly "
    "Unfortunately Fortunately Somehow Lately Yet So And But Or Because Since After Before "
    "When While Although Though If Who What Where Why How Everyone Someone Anyone "
    # Verbs opening a subject-less memory ("Has moved to Leeds", "Is retired").
    "Is Was Are Were Has Had Have Lives Lived Living Works Worked Working Moved Moving Goes "
    "Went Got Gets Started Starts Became Becomes Broke Feels Felt Turned Renamed Retired Quit "
    "Left Resigned Relocated Resides Stays Stayed Promoted Does Did Will Would Can Could Should "
    "Might Must Used Plans Wants Hopes Thinks Says Said Told Loves Likes Hates Misses Visited "
    "Visits Met".split()
)
# A second clause after a named person's value: superseding the memory would lose it.
_SECOND_CLAUSE = re.compile(
    r"[,;:]|[.!?] *\S|\b(?:and|but|or|so|while|whereas|although|though|plus|who|which|whose|"
    r"where|when|because)\b"
)


def _person_slot(text: str) -> tuple[bool, Slot | None]:
    """Whether ``text`` tells a named person's city or job, and its slot: None when the memory
    says more than that one fact (module docstring)."""
    for prefix, pattern in _PERSON_RULES:
        m = pattern.match(text)
        if not m or m.group("who") in _NOT_PERSONS:
            continue
        value = normalise_value(m.group("v"))
        if prefix == PERSON_OCCUPATION and value != "retired" and "promoted" not in m.group(0):
            if not is_occupation(value):
                continue  # "Nico is a night owl" is no job
        rest = text[m.end() :].rstrip(" .!")
        if _SECOND_CLAUSE.search(rest):
            return True, None
        if prefix == PERSON_OCCUPATION and re.search(r"\bin (?:the )?[A-Z]", rest):
            return True, None  # "a firefighter in Tucson" also tells where she lives
        return True, Slot(prefix + m.group("who").lower(), value)
    return False, None


# A thing named: "renamed their boat Wanderer", "calling their kitten Pepper".
_NAMING = re.compile(
    r"\b(?:called|calling|call|named|naming|renamed|renaming) (?:their|the|his|her) "
    r"(?:[a-z]+ ){0,2}?(?P<s>[a-z]+) (?:to )?(?P<v>[A-Z][\w'-]+(?: [A-Z][\w'-]+)?)"
)
# A thing's name stated: "their cactus is called Gerald", "their boss's name is Mark".
_IS_CALLED = re.compile(
    r"^(?:their|his|her|the) (?P<s>[a-z]+)(?:'s name is| is (?:now )?(?:called|named)) "
    r"(?P<v>[A-Z][\w'-]+(?: [A-Z][\w'-]+)?)"
)
# A plan under way ("training for a half marathon in April"): what a later outcome settles.
_PLAN = re.compile(
    r"\b(?:training for|preparing for|getting ready for|signed up for|planning|booked) "
    r"(?P<v>[^.,;!?()]+)",
    re.IGNORECASE,
)
_CONCERN_RE = re.compile(
    r"\b(?:worried|anxious|nervous|scared|afraid|stressed|stressed out|concerned|upset|"
    r"freaking out) (?:about|over|because of|for) (?P<v>[^.,;!?()]+)",
    re.IGNORECASE,
)
_WORRY = re.compile(
    r"\b(?:worried|worrying|anxious|nervous|scared|afraid|stressed|dreading|terrified|"
    r"panicking|on edge)\b",
    re.IGNORECASE,
)
# A coming event: "<the/my/their …> <noun> is next Thursday / tomorrow / on Friday".
_PENDING = re.compile(
    r"\b(?:the|my|their|his|her|our) (?P<v>(?:[\w']+ ){0,2}[\w']+) (?:is|are) (?:on |this |"
    r"next |coming |in )?(?:tomorrow|tonight|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|week|weekend|month|\w+day)\b",
    re.IGNORECASE,
)
# Something whose outcome is awaited, with when it comes ("results in about two weeks",
# "the hearing is on the 2nd of May", "my driving test is next month"): a concern even
# without a worry word, settled by the later memory that names it.
_AWAITED = re.compile(
    r"\b(?P<v>(?:[\w']+ ){0,2}(?:hearing|results?|verdict|decision|interview|exam|exams|test|"
    r"scan|appointment|operation|surgery|biopsy|trial|viva|audition|offer|visa|application|"
    r"court date|due date|deadline))(?: (?:at|with|for) [\w' ]{1,30}?)?"
    r"(?: is| are| will be| should be| comes?| come| due| back)*"
    r" (?:on|in|next|this|by|due|at the end of) (?=\S)",
    re.IGNORECASE,
)
_TIME_TAIL = re.compile(
    r"\s+(?:today|tomorrow|tonight|yesterday|next \w+|this \w+|on \w+day|in \w+ \w+|in "
    r"(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|spring|summer|autumn|fall|winter))$",
    re.IGNORECASE,
)
_FILLER = frozenset(
    "the a an their his her my our your its this that these those some upcoming big new "
    "next coming".split()
)
_WORD = re.compile(r"[^\W\d_][\w'-]*")


@dataclass(frozen=True)
class Slot:
    """``key`` (``city``, ``pet:dog``, ``concern:surgery`` …) and the memory's ``value`` in
    it, normalised for comparison (lower case, single spaces, no leading article)."""

    key: str
    value: str


def _strip_subject(text: str) -> str:
    text = " ".join(text.replace("\u2019", "'").split()).strip()
    stripped = re.sub(_SUBJECT, "", text, count=1)
    return stripped[:1].lower() + stripped[1:] if stripped else stripped


def slot_of(content: str) -> Slot | None:
    """The slot ``content`` fills, or None.

    >>> slot_of("Lives in Porto")
    Slot(key='city', value='porto')
    >>> slot_of("Has a dog called Biscuit")
    Slot(key='pet:dog', value='biscuit')
    >>> slot_of("Their brother Nico lives in Phoenix")
    Slot(key='city:nico', value='phoenix')
    >>> slot_of("Feels worried about their mum's surgery next week")
    Slot(key='concern:surgery', value="feels worried about their mum's surgery next week")
    """
    told, person = _person_slot(" ".join(content.replace("\u2019", "'").split()))
    if told:
        return person
    text = _strip_subject(content)
    if not text:
        return None
    for key, pattern in _RULES:
        m = pattern.match(text)
        if not m:
            continue
        if pattern is _RULES[_QUIT][1] and stops(text):
            continue  # "Quit pottery" gives up an activity (memory.stops), not a job
        who = m.groupdict().get("who")
        value = normalise_value(f"dating {who}" if who else m.group("v"))
        if not value:
            continue
        if key == "occupation" and pattern in (_RULES[_IS_A][1], _RULES[_IS_BARE][1]):
            # The job without where it is done ("sous chef at an Italian place" → "sous
            # chef"); "Is a night owl" is no job.
            value = _JOB_PLACE.split(value, maxsplit=1)[0]
            if not is_occupation(value):
                continue
            if pattern is _RULES[_IS_BARE][1] and _NOT_BARE_JOB.search(value):
                continue  # "Is seeing a therapist": a doing, not a job
        if key == "pet":
            species = m.group("s").lower()
            key = f"pet:{PET_SPECIES.get(species, species)}"
        return Slot(key, value)
    naming = _NAMING.search(" ".join(content.split())) or _IS_CALLED.match(text)
    if naming:
        thing = naming.group("s").lower()
        key = f"pet:{PET_SPECIES[thing]}" if thing in PET_SPECIES else f"name:{thing}"
        return Slot(key, normalise_value(naming.group("v")))
    concern = concern_subject(content)
    if concern:
        return Slot(CONCERN + concern, normalise_value(content))
    return None


def slot_value(key: str, content: str) -> str:
    """``content``'s value in slot ``key`` (compared to tell "same fact" from "changed")."""
    if not key.startswith(CONCERN):
        found = slot_of(content)
        if found is not None and found.key == key:
            return found.value
    return normalise_value(content)


def concern_subject(content: str) -> str | None:
    """The subject word of a worry in ``content`` ("nervous about the job interview" →
    ``interview``): the last content word of what the worry is about, time words dropped;
    or, for a worry beside a coming event ("the surgery is next Thursday and I'm a nervous
    wreck"), that event's word; or, with no worry at all, the word of an awaited outcome and
    when it comes ("results in about two weeks" → ``results``, "the hearing is on the 2nd of
    May" → ``hearing``)."""
    m = _CONCERN_RE.search(content) or _PLAN.search(content)
    if not m:
        m = (_PENDING.search(content) if _WORRY.search(content) else None) or _AWAITED.search(
            content
        )
        if not m:
            return None
    about = _TIME_TAIL.sub("", m.group("v").strip())
    words = [w.lower() for w in _WORD.findall(about) if w.lower() not in _FILLER]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    return words[-1] if words else None


def mentions(content: str, subject: str) -> bool:
    """Whether ``content`` names ``subject`` (a concern's word), singular or plural."""
    pattern = rf"\b{re.escape(subject)}(?:s|es|'s)?\b"
    return re.search(pattern, content, re.IGNORECASE) is not None
