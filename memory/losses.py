"""A named being that died or was lost, read with transparent English rules.

"Pickle died this morning" ends what "Has a cat called Pickle" said: the writer lets such a
memory take the slot of the current memory holding that name and supersede it
(``memory.services.writes`` module docstring). This module only reads the text; whether the
name is a slot value of the user's is the writer's question.

The rules read memory texts as eros writes them (third person, often subject-less):

* a death, which ends a pet's slot (``pet:*``) or a named one's (``name:*``): ``<Name> died /
  passed away / passed on / is dead / was killed``, ``<Name> was (got, had to be, has been)
  put down`` or ``put to sleep``, ``put <Name> down`` or ``to sleep`` ("Had to put Rufus
  down"), ``had <Name> put down``, ``lost <Name>`` or ``lost their <pet word> <Name>``;
* a pet gone, which ends a pet's slot only (a person who "went missing" for an afternoon is
  still in the user's life): ``<Name> ran away / went missing / has gone missing /
  disappeared``.

"has", "had", "just", "sadly"… may come between a name and its verb ("Biscuit has sadly gone
missing"), and "'s" stands for "has" ("Biscuit's gone missing"). ``<Name>`` is a capitalised
word ("Pickle", "O'Malley") or two ("Mr Whiskers"); of two, both readings are offered, the
pair and the last word, since "Yesterday Pickle died" names Pickle. Pronouns and determiners
("She", "The", "Their"…) are no names. English only; anything else tells no loss, which only
means nothing is superseded by this rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = r"[A-Z][\w'-]{0,29}?"
_NAME = rf"(?P<n>(?:{_WORD} )?{_WORD})(?:'s)?"
_BETWEEN = (
    r"(?:(?:has|had|have|is|was|just|sadly|finally|suddenly|unexpectedly|recently|peacefully) )*"
)
_DIED = r"died|passed away|passed on|dead(?! tired)|killed|(?:put|been put) (?:down|to sleep)"
_GONE = r"ran away|run away|went missing|gone missing|disappeared"
# "lost their cat Pickle": a possessive and up to two words, none of them a preposition ("lost
# the match to Arsenal" lost no one).
_OWNED = (
    r"(?:(?:their|his|her|my|our) (?:(?!(?:at|to|with|in|on|for|from|of|by|against)\b)"
    r"[a-z]+ ){0,2})?"
)
_DEATHS = [
    re.compile(rf"\b{_NAME} {_BETWEEN}(?:(?:got|had to be) )?(?:{_DIED})\b"),
    re.compile(rf"\b(?:put|putting) {_NAME} (?:down|to sleep)\b"),
    re.compile(rf"\b(?:have|had|having|get|got) {_NAME} put (?:down|to sleep)\b"),
    re.compile(rf"\b[Ll]ost {_OWNED}{_NAME}\b"),
]
_GONES = [re.compile(rf"\b{_NAME} {_BETWEEN}(?:{_GONE})\b")]
_NOT_NAMES = frozenset(
    "I He She They It We You The A An This That These Those Their His Her Its Our My Your "
    "User Someone Somebody Everyone Nobody Everything Nothing".split()
)


#: Prefixes of the slots a death ends (a pet's name, a named one's); a pet gone ends the first.
PET, NAMED = "pet:", "name:"
ENDED_PREFIXES = (PET, NAMED)


@dataclass(frozen=True)
class Loss:
    """A name a memory says is gone: ``died`` (any named slot ends) or not (a pet ran away or
    went missing: only a pet's slot ends)."""

    name: str
    died: bool

    def ends(self, slot: str) -> bool:
        """Whether this loss can end a memory of slot ``slot`` (holding :attr:`name`)."""
        return slot.startswith(ENDED_PREFIXES if self.died else PET)


def losses(content: str) -> tuple[Loss, ...]:
    """The losses ``content`` tells, each name once (a death before a pet gone), in the order
    of the rules; ``()`` when it tells none.

    >>> losses("Their cat Pickle passed away")
    (Loss(name='Pickle', died=True),)
    >>> losses("Had to put Mr Whiskers to sleep")
    (Loss(name='Mr Whiskers', died=True), Loss(name='Whiskers', died=True))
    >>> losses("Lost their keys")
    ()
    """
    text = " ".join(content.replace("\u2019", "'").split())
    found: dict[str, Loss] = {}
    for patterns, died in ((_DEATHS, True), (_GONES, False)):
        for pattern in patterns:
            for m in pattern.finditer(text):
                name = m.group("n")
                for reading in (name, name.rsplit(" ", 1)[-1]):
                    if not _NOT_NAMES.intersection(reading.split(" ")):
                        found.setdefault(reading, Loss(reading, died))
    return tuple(found.values())
