"""Dream now, for the owner of a session: distil it at once and say what was remembered.

The playground's "Dream now" button (development only) calls this; the operator's ways to do
the same are ``manage.py dreaming --session`` and the admin action.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from companions.selectors import session_for_user
from companions.services.dreaming import DreamingOutcome, dreaming_distil_session
from eros.llm.base import ChatModel, Embedder
from memory.selectors import memory_get_many


@dataclass(frozen=True)
class DreamNow:
    """The dreaming outcome and the memories it wrote or merged into (dicts of
    ``memory.selectors.MEMORY_FIELDS`` plus ``layer``), in the order of the candidates."""

    outcome: DreamingOutcome
    memories: list[dict]


def session_dream_now(
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    chat_model: ChatModel | None = None,
    embedder: Embedder | None = None,
) -> DreamNow:
    """Distil the caller's session now, idle or not, over its messages since the last time.

    Raises :class:`~eros.errors.NotFound` for an unknown session, :class:`~eros.errors.Forbidden`
    for another user's, and :class:`~eros.errors.Conflict` while a sweeper is distilling it.
    A provider failure is not raised: the outcome is then ``retry`` (dreaming tries again later).
    """
    session = session_for_user(session_id=session_id, user_id=user_id)
    outcome = dreaming_distil_session(
        session_id=session.id, chat_model=chat_model, embedder=embedder
    )
    return DreamNow(
        outcome, memory_get_many(user_id=session.user_id, memory_ids=outcome.memory_ids)
    )
