"""Slot rules: which current fact a memory is a value of, so a newer value supersedes it.

A *slot* is one thing about the user that holds one value at a time: where they live, their
job, their workplace, the name they go by, their age, their relationship status, a pet's name
(one slot per species), or a live concern ("worried about mum's surgery"). Two current
memories of the same slot with different values disagree, and the newer one (in event time)
supersedes the older (DESIGN §7). This is the offline path's whole rule set; a model path
decides from the candidates it is shown, and these rules stay as the safety net for the slots
the insight profile also holds (:data:`PROFILE_SLOTS`), so memories and profile agree.

The rules read memory texts as eros writes them, third person and usually subject-less
("Lives in Lisbon", "Has a dog called Biscuit"), and tolerate a leading subject ("The user
lives in…", "Sam works as…", "She goes by…"). English only; anything else has no slot, which
only means it is never superseded by rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eros.llm.offline.extraction import PET_SPECIES, is_occupation

#: Profile fields (``insights.schema``) that mirror a slot: the field and the live memory of
#: that slot must agree.
PROFILE_SLOTS = {"city": "city", "occupation": "occupation", "preferred_name": "name"}
#: Prefix of a concern slot (``concern:<subject word>``).
CONCERN = "concern:"

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
    ("occupation", re.compile(rf"^is an? (?P<v>[^.,;!?()]+?){_END}")),
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
            r"in a relationship|dating [^.,;!?]+|broke up with [^.,;!?]+|"
            # Someone unnamed: "seeing someone new, her name is Leonor" names them.
            r"seeing someone(?![^.;!?]*\bname(?:'s| is)\b)|"
            r"has a (?:boyfriend|girlfriend|partner|husband|wife|fiancée?)(?: (?:called|named) "
            r"[^.,;!?]+)?)"
        ),
    ),
]
_IS_A = next(i for i, (_, p) in enumerate(_RULES) if p.pattern.startswith("^is an? "))
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


def normalise_value(value: str) -> str:
    """A slot value as values are compared: lower case, single spaces, straight apostrophes,
    no surrounding quotes, no leading article ("The Hague " → "hague")."""
    value = " ".join(value.replace("\u2019", "'").split()).strip(" '\"").lower()
    value = re.sub(r"^(?:the|a|an) ", "", value)
    return value


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
    >>> slot_of("Feels worried about their mum's surgery next week")
    Slot(key='concern:surgery', value="feels worried about their mum's surgery next week")
    """
    text = _strip_subject(content)
    if not text:
        return None
    for key, pattern in _RULES:
        m = pattern.match(text)
        if not m:
            continue
        who = m.groupdict().get("who")
        value = normalise_value(f"dating {who}" if who else m.group("v"))
        if not value:
            continue
        if key == "occupation" and pattern is _RULES[_IS_A][1] and not is_occupation(value):
            continue  # "Is a night owl" is no job
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
    wreck"), that event's word."""
    m = _CONCERN_RE.search(content) or _PLAN.search(content)
    if not m:
        if not _WORRY.search(content):
            return None
        m = _PENDING.search(content)
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
