"""Giving something up, read with transparent English rules.

"Quit pottery" ends what "Started a pottery class" said: the writer lets a memory telling that
the user stopped an activity or a habit supersede the user's current memories saying they do
it (``memory.services.writes`` module docstring). This module only reads texts: which rows say
what is the writer's question.

The rules read memory texts as eros writes them, about the user: third person and usually
subject-less, a leading "The user" or "They" allowed. Any other subject ("Marisol quit
smoking", "Their sister started pottery") is someone else and tells nothing. After the subject
come words that only place the verb in time ("has", "had", "is", "been", "just", "finally",
"recently", "still"…; :data:`_AUX`).

* A **stop** is a stop verb and its thing: ``quit``, ``gave up`` (``on``), ``stopped``,
  ``dropped out of``, ``packed in``, ``ditched``, ``is done with``, ``left`` ("Has quit
  pottery", "Gave up the cello", "Dropped out of the choir", "Quit smoking"); a doing verb may
  come between ("Stopped going to the gym", "Quit playing chess"). Or ``no longer`` and a
  doing ("No longer plays chess"), or a negated doing that says ``anymore`` / ``any more`` /
  ``any longer`` ("Isn't doing crochet anymore", "Doesn't go to the gym any more").
* A **doing** is a chain of doing verbs (:data:`_DOING`: started, took up, goes to, attends,
  joined, plays, is learning, practises, does, signed up for, is in, is into, distracting
  themselves with…) and its thing ("Has started learning the cello", "Goes to pottery on
  Tuesdays"), or the thing itself as the verb with no object after it ("Smokes ten a day",
  "Has been smoking since school", "Runs every weekend"). A negated text ("Doesn't smoke",
  "Never plays chess") and a stop are no doing.

The *thing* is a head word: of the words after the verbs up to the first preposition, time
word, conjunction or punctuation (:data:`_CUT`), the last that is not a frame word (class,
lessons, course, club, team…: "a pottery class" is pottery, "the book club" is book); a frame
word only when nothing else names the thing ("Quit the class" is class). " and " joins a second
one-word thing ("Quit smoking and drinking"). Things compare by :func:`stem`, a light
stemmer ("smoking", "smokes" and "smoked" are all ``smok``).

Work is the workplace slot's (``memory.slots``: "Quit the bank", "Quit their job at the
bank", "Left Tesco"), so a work word as the thing (job, work, career…) is no stop, and after
``quit`` a thing with a determiner or a capital must be an activity's (:data:`_ACTIVITY`:
choir, gym, cello… or a frame word, or a gerund): "Quit pottery", "Quit the choir" and "Quit
smoking" are stops, "Quit the bank" is not. ``left`` always needs an activity's word ("Left the
choir"; "Left home at eight" is no stop). English only; anything else tells nothing, which only
means nothing is superseded by this rule.
"""

from __future__ import annotations

import re

# Words that place the verb in time or add colour, skipped before the verb.
_AUX = (
    r"(?:has|have|had|is|are|was|were|been|just|finally|recently|officially|now|already|"
    r"actually|also|still|really|even|eventually|basically|totally|completely|sadly|then|"
    r"apparently|kind of|pretty much)"
)
# Doing verbs, longest first where one begins another; a chain is one or more of them.
_DOING = (
    r"(?:(?:is|are|was) (?:in|into)|got into|getting into|gets into|"
    r"distracting (?:themselves|themself|himself|herself) with|keeping busy with|busy with|"
    r"started|starting|starts|start|began|begun|begins|"
    r"took up|taken up|takes up|taking up|take up|took|takes|taking|take|"
    r"goes to|go to|going to|went to|goes|going|go|"
    r"attends|attending|attended|attend|joined|joins|joining|"
    r"plays|playing|play|learns|learning|learnt|learned|learn|"
    r"practises|practices|practising|practicing|practise|practice|"
    r"does|doing|do|signed up (?:for|to)|signs up (?:for|to)|enrolled (?:in|on)|"
    r"sings in|singing in|member of|part of|trains at|training at|"
    r"eats|eating|drinks|drinking)"
    r"(?: to(?: play| do| go to)?)?"
)
_STOP = (
    r"(?P<verb>quit|quits|quitting|"
    r"(?:gave|given|giving|gives|give) up(?: on)?|stopped|stops|stopping|"
    r"dropped out of|drops out of|dropping out of|packed in|ditched|"
    r"(?:is |are )?(?:done|finished) with|left|leaves|leaving)"
)
_SUBJECT = r"(?:(?:the )?user|they) "
_NEGATED = (
    r"(?:isn't|is not|aren't|are not|doesn't|does not|don't|do not|hasn't been|has not been|"
    r"not)"
)
_ANYMORE = r"(?:anymore|any more|any longer|no more)"
# Where a thing's words end: a preposition, a time word, a conjunction or a relative word.
_CUT = frozenset(
    "in at on to for with from by about after before during near of into over since until "
    "every each once twice daily weekly regularly again anymore any more longer instead "
    "now today tonight yesterday tomorrow last this next these lately recently ago already "
    "and or but so because though although while when which who that where as than "
    "is are was were has have had".split()
)
# Words for the frame of an activity rather than the activity ("a pottery class").
_FRAMES = frozenset(
    "class lesson course session club team group league practice workshop membership habit "
    "night meetup sesh".split()
)
# Words that tell an activity after "quit" or "left" even with a determiner ("the choir").
_ACTIVITY = frozenset(
    "choir band orchestra gym squad troupe ensemble cello piano guitar violin viola drums "
    "drum bass ukulele flute saxophone sax trumpet clarinet harp".split()
)
# Determiners, amounts and colour words: never a thing.
_FILLER = frozenset(
    "a an the their his her my our its some this that new local weekly regular evening "
    "morning beginner beginners beginner's beginners' first own lot lots bit little few couple "
    "much more less".split()
)
# Work is the workplace slot's business (memory.slots).
_WORK = frozenset("job jobs work working career role position post shift employer".split())
_NUMBER = (
    r"(?:\d[\w.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|"
    r"twenty|thirty|forty|fifty|a (?:lot|bit|little|few|pack|couple)|a day|too much|heavily|"
    r"socially|occasionally)"
)
_WORD = re.compile(r"[a-z][\w'-]*")

_STOP_RE = re.compile(rf"^(?:{_AUX} )*{_STOP} (?P<rest>.+)$")
_NO_LONGER_RE = re.compile(rf"^(?:{_AUX} )*no longer (?P<rest>.+)$")
_NEGATED_RE = re.compile(rf"^(?:{_AUX} )*{_NEGATED} (?P<rest>.+?) {_ANYMORE}\b")
_CHAIN_RE = re.compile(rf"^(?:(?:{_DOING}) )+")
_DOING_RE = re.compile(rf"^(?:{_AUX} )*?(?:(?:{_DOING}) )+(?P<rest>.+)$")
# The thing as the verb: a word with nothing after it but a quantity, a cut word or the end.
_VERB_RE = re.compile(
    rf"^(?:{_AUX} )*(?P<verb>[a-z][\w'-]*)(?=$|[.,;:!?(]| (?:{_NUMBER})\b| (?P<cut>[a-z]+)\b)"
)
_NOT_VERBS = frozenset(
    "a an the their his her my our not never no don't doesn't isn't aren't won't can't "
    "didn't hasn't haven't wasn't weren't is was has does its it's this thus yes".split()
)


def stem(word: str) -> str:
    """``word`` lower case without an inflection: "-ing", "-ed", "-es"/"-s" (not after "s"),
    then a final "e" and a doubled last consonant ("smoking", "smokes", "smoked" → ``smok``;
    "running", "runs" → ``run``). Only ever compared to another stem."""
    word = word.lower().strip("'")
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                continue
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word


def _text(content: str) -> str:
    """``content`` in one case, straight apostrophes and single spaces, subject dropped."""
    text = " ".join(content.replace("\u2019", "'").split()).lower()
    return re.sub(rf"^{_SUBJECT}", "", text)


def _items(phrase: str) -> list[list[str]]:
    """The words of each thing in ``phrase`` (the text after the verbs): the first up to a
    cut word or punctuation, and a one-word second after " and " / " or " ("smoking and
    drinking")."""
    phrase = re.split(r"[.,;:!?()\"]", phrase, maxsplit=1)[0]
    phrase = re.sub(r"^(?:a )?(?:lot|lots|bit|couple|few) of ", "", phrase)
    words = phrase.split()
    first: list[str] = []
    i = 0
    while i < len(words) and words[i] not in _CUT:
        first.append(words[i])
        i += 1
    items = [first] if first else []
    if first and i + 1 < len(words) and words[i] in ("and", "or"):
        j = i + 1
        if words[j] in ("the", "their", "his", "her") and j + 1 < len(words):
            j += 1
        if j + 1 == len(words) or words[j + 1] in _CUT:
            items.append([words[j]])
    return items


def _head(words: list[str]) -> str | None:
    """The thing ``words`` name (module docstring), or None."""
    words = [w for w in (_WORD.match(w) for w in words) if w is not None]
    names = [w.group(0) for w in words]
    content = [w for w in names if w not in _FILLER]
    named = [w for w in content if stem(w) not in _FRAMES and w not in _FRAMES]
    head = (named or content or [None])[-1]
    if head is None or head in _WORK or stem(head) in _WORK:
        return None
    return head


def _is_activity(words: list[str]) -> bool:
    """Whether a thing's words say it is an activity (an activity or frame word, a gerund)."""
    if words and words[0].endswith("ing") and len(words[0]) > 4:
        return True
    return any(w in _ACTIVITY or stem(w) in _ACTIVITY | _FRAMES for w in words)


def _doing_heads(rest: str) -> list[str]:
    """The things ``rest`` (a text from its verb on) says the user does."""
    m = _DOING_RE.match(rest)
    if m:
        heads = [h for h in map(_head, _items(m.group("rest"))) if h]
        if heads:
            return heads
    # "Drinks a lot at weekends": a doing verb with an amount is the thing itself.
    v = _VERB_RE.match(rest)
    # A verb's "-s" or "-ing" form ("Smokes", "has been smoking"), not a name or a pronoun.
    if v and v.group("verb") not in _NOT_VERBS and v.group("verb").endswith(("s", "ing")):
        cut = v.group("cut")
        if cut is None or cut in _CUT or re.match(rf" {_NUMBER}\b", rest[v.end() :]):
            verb = v.group("verb")
            return [] if verb in _WORK or stem(verb) in _WORK else [verb]
    return []


def stops(content: str) -> tuple[str, ...]:
    """The things ``content`` says the user stopped doing, as head words (lower case), each
    once, in the order told; ``()`` when it tells no stop.

    >>> stops("Has quit pottery, the new teacher is meh")
    ('pottery',)
    >>> stops("Stopped going to the gym")
    ('gym',)
    >>> stops("Quit the bank")
    ()
    """
    text = _text(content)
    heads: list[str] = []
    m = _STOP_RE.match(text)
    if m:
        verb, rest = m.group("verb"), m.group("rest")
        chain = _CHAIN_RE.match(rest)
        phrase = rest[chain.end() :] if chain else rest
        for words in _items(phrase):
            if verb in ("left", "leaves", "leaving") and not _is_activity(words):
                continue
            if verb.startswith("quit") and not chain and not _is_activity(words):
                original = content.replace("\u2019", "'")
                at = original.lower().find(" " + words[0])
                capital = at >= 0 and original[at + 1 : at + 2].isupper()
                if words[0] in _FILLER or capital:
                    continue  # "Quit the bank", "Quit Tesco": work (module docstring)
            head = _head(words)
            if head:
                heads.append(head)
    else:
        m = _NO_LONGER_RE.match(text) or _NEGATED_RE.match(text)
        if m:
            heads = _doing_heads(m.group("rest"))
    return tuple(dict.fromkeys(heads))


def doings(content: str) -> tuple[str, ...]:
    """The things ``content`` says the user does, started or is learning, as head words (lower
    case), each once; ``()`` for a stop, a negated text or someone else's doing.

    >>> doings("Has started learning the cello")
    ('cello',)
    >>> doings("Smokes ten a day")
    ('smokes',)
    >>> doings("Their sister Marisol started pottery")
    ()
    """
    if stops(content):
        return ()
    text = _text(content)
    if _NO_LONGER_RE.match(text):
        return ()
    return tuple(dict.fromkeys(_doing_heads(text)))


def stopped_stems(content: str) -> frozenset[str]:
    """:func:`stem` of each thing ``content`` says the user stopped (empty: no stop)."""
    return frozenset(stem(h) for h in stops(content))


def ends(stop: str, doing: str) -> bool:
    """Whether a memory saying the user stopped ``stop`` ends one saying they do ``doing``
    (both texts): they name one thing (:func:`stem` equality) and ``doing`` is no stop."""
    stopped = stopped_stems(stop)
    return bool(stopped) and not stopped.isdisjoint(stem(h) for h in doings(doing))
