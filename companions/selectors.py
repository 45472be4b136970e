"""Reads of the companions app."""

from __future__ import annotations

import uuid

from django.db.models import OuterRef, QuerySet, Subquery

from companions.models import ChatMessage, ChatSession, CompanionAffinityEvent
from eros.errors import Forbidden, NotFound
from insights.models import CompanionInsights
from insights.schema import training_level
from personas.models import PersonaInstance


def session_for_user(*, session_id: uuid.UUID, user_id: uuid.UUID) -> ChatSession:
    """The session if the caller owns it.

    Raises :class:`~eros.errors.NotFound` when unknown, :class:`~eros.errors.Forbidden` when
    another user's.
    """
    session = ChatSession.objects.filter(id=session_id).first()
    if session is None:
        raise NotFound("session not found")
    if session.user_id != user_id:
        raise Forbidden("not your session")
    return session


def message_history_page(
    *, session: ChatSession, limit: int, offset: int
) -> tuple[list[ChatMessage], int]:
    """A page of the conversation and the total number of messages in it.

    ``offset`` counts back from the newest message; the page is the ``limit`` messages before
    that point, returned oldest first (reference eros-engine-server.md §2.2 ``history``).
    ``system_error`` rows are operator-facing and not listed; a failed turn shows as its user
    message's ``turn_status``. Two queries.
    """
    visible = ChatMessage.objects.filter(session=session).exclude(
        role=ChatMessage.ROLE_SYSTEM_ERROR
    )
    total = visible.count()
    if offset >= total:
        return [], total
    rows = list(
        visible.order_by("-sent_at", "-id").only("id", "role", "content", "sent_at", "turn_status")[
            offset : offset + limit
        ]
    )
    rows.reverse()
    return rows, total


def session_list_for_user(*, user_id: uuid.UUID) -> QuerySet[ChatSession]:
    """The user's sessions, most recently active first, each with its ``persona_name``.

    One query: the persona name comes from a subquery (``instance_id`` has no foreign key, so
    a session whose instance is gone has ``persona_name`` None).
    """
    names = PersonaInstance.objects.filter(id=OuterRef("instance_id")).values("genome__name")[:1]
    return (
        ChatSession.objects.filter(user_id=user_id)
        .annotate(persona_name=Subquery(names))
        .order_by("-last_active_at", "-created_at")
    )


def user_message_in_session(*, session: ChatSession, message_id: uuid.UUID) -> ChatMessage:
    """The user message ``message_id`` of ``session``; :class:`~eros.errors.NotFound` when it
    is not one."""
    message = ChatMessage.objects.filter(
        id=message_id, session=session, role=ChatMessage.ROLE_USER
    ).first()
    if message is None:
        raise NotFound("no such user message in this session")
    return message


def turn_reply(*, user_message: ChatMessage) -> ChatMessage | None:
    """The assistant message answering ``user_message``, if any."""
    return (
        ChatMessage.objects.filter(
            session_id=user_message.session_id,
            reply_to_id=user_message.id,
            role=ChatMessage.ROLE_ASSISTANT,
        )
        .order_by("sent_at")
        .first()
    )


def gift_events_page(
    *, session: ChatSession, limit: int, offset: int
) -> tuple[list[CompanionAffinityEvent], int]:
    """The session's gift events, newest first, and their total count."""
    gifts = CompanionAffinityEvent.objects.filter(
        affinity__session_id=session.id, event_type="gift"
    )
    total = gifts.count()
    if offset >= total:
        return [], total
    return list(gifts.order_by("-created_at", "-id")[offset : offset + limit]), total


def training_level_for_user(*, user_id: uuid.UUID) -> float:
    """The user's ``training_level`` computed from the stored profile (0.0 without one)."""
    insights = (
        CompanionInsights.objects.filter(user_id=user_id).values_list("insights", flat=True).first()
    )
    return training_level(insights or {})
