"""Starting (or resuming) a chat session with a persona."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from companions.models import ChatSession
from eros.api import ApiError
from personas.models import PersonaGenome, PersonaInstance
from personas.services import instance_get_or_create


@dataclass(frozen=True)
class SessionStart:
    session: ChatSession
    instance: PersonaInstance
    is_new: bool


def session_start(
    *,
    user_id: uuid.UUID,
    genome_id: uuid.UUID | None = None,
    instance_id: uuid.UUID | None = None,
    is_demo: bool = False,
) -> SessionStart:
    """Resume the user's latest session with a persona instance, or create one.

    Resolution per reference eros-engine-server.md §5.4.3: ``instance_id`` must be the
    caller's active instance (404 / 403); else ``genome_id`` must name an active genome (404 /
    400) and the caller's instance of it is reused or created. A non-active instance of that
    genome is a clean 409 ``conflict`` instead of the reference's 500. A resumed session keeps
    its metadata (``is_demo`` only applies to new sessions).

    Raises :class:`eros.api.ApiError`.
    """
    if instance_id is not None:
        instance = PersonaInstance.objects.select_related("genome").filter(id=instance_id).first()
        if instance is None or instance.status != PersonaInstance.STATUS_ACTIVE:
            raise ApiError(404, "not_found", "instance not found")
        if instance.owner_uid != user_id:
            raise ApiError(403, "forbidden", "instance not owned by this user")
    elif genome_id is not None:
        genome = PersonaGenome.objects.filter(id=genome_id).first()
        if genome is None:
            raise ApiError(404, "not_found", "genome not found")
        if not genome.is_active:
            raise ApiError(400, "bad_request", "genome is not active")
        instance = instance_get_or_create(genome=genome, owner_uid=user_id)
        if instance.status != PersonaInstance.STATUS_ACTIVE:
            raise ApiError(409, "conflict", f"your instance of this persona is {instance.status!r}")
    else:
        raise ApiError(
            400,
            "validation_error",
            "missing genome_id (or instance_id)",
            {"genome_id": ["genome_id or instance_id is required"]},
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
    return SessionStart(session, instance, is_new=True)
