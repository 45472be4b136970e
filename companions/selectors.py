"""Reads of the companions app."""

from __future__ import annotations

import uuid

from companions.models import ChatSession
from eros.api import ApiError


def session_for_user(*, session_id: uuid.UUID, user_id: uuid.UUID) -> ChatSession:
    """The session if the caller owns it: 404 when unknown, 403 when another user's."""
    session = ChatSession.objects.filter(id=session_id).first()
    if session is None:
        raise ApiError(404, "not_found", "session not found")
    if session.user_id != user_id:
        raise ApiError(403, "forbidden", "not your session")
    return session
