"""Starting (or resuming) a chat session with a persona; a new session opens with the persona's
greeting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from companions.models import ChatMessage, ChatSession
from eros.errors import Conflict, Forbidden, NotFound, Validation
from insights.selectors import insight_preferred_name
from personas.cards import fill_placeholders
from personas.models import PersonaGenome, PersonaInstance
from personas.services import instance_get_or_create

#: What a greeting's ``{{user}}`` becomes while the user's name is unknown.
UNKNOWN_USER_WORD = "you"


@dataclass(frozen=True)
class SessionStart:
    """The started session; ``greeting`` is the assistant message a new session opened with
    (None when resumed, or when the persona has no greeting)."""

    session: ChatSession
    instance: PersonaInstance
    is_new: bool
    greeting: ChatMessage | None = None


def greeting_text(*, genome: PersonaGenome, user_name: str | None) -> str | None:
    """The genome's greeting with ``{{char}}`` → its name and ``{{user}}`` → ``user_name``
    (``"you"`` when unknown); None when the genome has no greeting."""
    template = (genome.greeting or "").strip()
    if not template:
        return None
    return fill_placeholders(template, char=genome.name, user=user_name or UNKNOWN_USER_WORD)


def session_start(
    *,
    user_id: uuid.UUID,
    genome_id: uuid.UUID | None = None,
    instance_id: uuid.UUID | None = None,
    is_demo: bool = False,
) -> SessionStart:
    """Resume the user's latest session with a persona instance, or create one.

    Resolution per reference eros-engine-server.md §5.4.3: ``instance_id`` must be the
    caller's active instance (``NotFound`` / ``Forbidden``); else ``genome_id`` must name an
    active genome (``NotFound`` / ``Validation`` with code ``bad_request``) and the caller's
    instance of it is reused or created. A non-active instance of that genome is a clean
    ``Conflict`` instead of the reference's 500; neither id given is a ``Validation`` error.
    A resumed session keeps its metadata (``is_demo`` only applies to new sessions). A new
    session opens with the genome's greeting (placeholders filled, :func:`greeting_text`) as
    its first message, an ``assistant`` row answering no user message, in the same
    transaction: the history shows it and the next turn's prompt includes it.

    Raises the :mod:`eros.errors` named above.
    """
    if instance_id is not None:
        instance = PersonaInstance.objects.select_related("genome").filter(id=instance_id).first()
        if instance is None or instance.status != PersonaInstance.STATUS_ACTIVE:
            raise NotFound("instance not found")
        if instance.owner_uid != user_id:
            raise Forbidden("instance not owned by this user")
    elif genome_id is not None:
        genome = PersonaGenome.objects.filter(id=genome_id).first()
        if genome is None:
            raise NotFound("genome not found")
        if not genome.is_active:
            raise Validation("genome is not active", code="bad_request")
        instance = instance_get_or_create(genome=genome, owner_uid=user_id)
        if instance.status != PersonaInstance.STATUS_ACTIVE:
            raise Conflict(f"your instance of this persona is {instance.status!r}")
    else:
        raise Validation(
            "missing genome_id (or instance_id)",
            details={"genome_id": ["genome_id or instance_id is required"]},
        )

    now = timezone.now()
    with transaction.atomic():
        # Simultaneous starts race between "no session yet" and the insert, and there is no
        # row to lock until the first session exists; so they queue on the instance row (one
        # per user and persona). Under READ COMMITTED, the next in line then sees the session
        # the first committed and resumes it.
        PersonaInstance.objects.select_for_update().filter(id=instance.id).exists()
        session = (
            ChatSession.objects.select_for_update()
            .filter(user_id=user_id, instance_id=instance.id)
            .order_by("-last_active_at")
            .first()
        )
        if session is not None:
            session.last_active_at = now
            session.save(update_fields=["last_active_at"])
            return SessionStart(session, instance, is_new=False)
        session = ChatSession.objects.create(
            user_id=user_id,
            instance_id=instance.id,
            metadata={"is_demo": True} if is_demo else {},
            last_active_at=now,
            created_at=now,
        )
        name = insight_preferred_name(user_id=user_id)
        text = greeting_text(genome=instance.genome, user_name=name)
        greeting = None
        if text:
            greeting = ChatMessage.objects.create(
                session=session,
                role=ChatMessage.ROLE_ASSISTANT,
                content=text,
                sent_at=now,
                context={"greeting": True},
            )
    return SessionStart(session, instance, is_new=True, greeting=greeting)
