"""Signals between the apps that may not import each other (DESIGN §1: memory and insights are
siblings), and the one notion of "the same value" they share.

``profile_slot_changed`` is sent by the memory app after a user's own add, edit or forget
changed the current value of a slot the insight profile mirrors (``memory.slots.PROFILE_SLOTS``:
``city``, ``occupation``, ``name``), so the profile and the memories keep agreeing on a current
fact (DESIGN §7). Keyword arguments:

* ``user_id`` (UUID);
* ``slot``: ``"city"``, ``"occupation"`` or ``"name"``;
* ``value``: the slot's current value as the user wrote it ("Porto"), or None when no current
  memory holds the slot any more;
* ``replaced``: None for an add or edit (the user's word wins); for a forget or an edit that
  took the memory out of the slot, the value that is gone, which the profile gives up only if
  it holds that value (it was derived from the forgotten memory, not told elsewhere).

Receivers run in the sender's transaction.
"""

from __future__ import annotations

import re

from django.dispatch import Signal

profile_slot_changed = Signal()


def normalise_value(value: str) -> str:
    """A slot value as values are compared: lower case, single spaces, straight apostrophes,
    no surrounding quotes, no leading article ("The Hague " → "hague")."""
    value = " ".join(value.replace("\u2019", "'").split()).strip(" '\"").lower()
    return re.sub(r"^(?:the|a|an) ", "", value)
