"""Memory writes: the two rows every replied turn leaves behind (DESIGN §5).

* relationship layer: the exchange (``User: …`` / ``<persona>: …``), for this persona instance;
* profile layer: the user's own words, shared across personas.

Both are embedded in one batch call (``input_type=document``) and cite their source messages.
The embedding call happens outside any transaction. A row that nearly repeats a live memory of
the same user and layer (cosine ≥ ``DEDUP_SIMILARITY``) updates it instead (``writes``).
"""

from __future__ import annotations

import logging
import uuid

from django.db.models import Q

from eros.llm.base import Embedder
from eros.llm.providers import get_embedder
from memory.models import CompanionMemory
from memory.services.writes import MemoryDraft, memory_upsert_many

logger = logging.getLogger(__name__)


def memory_write_turn(
    *, user_message_id: uuid.UUID | str, embedder: Embedder | None = None
) -> list[CompanionMemory]:
    """Write the relationship and profile rows of a replied turn; idempotent per message.

    Returns the rows written or merged into (empty when the turn has no reply, or was already
    written: some memory of the user, deleted or not, already cites the user message).
    Raises ``ProviderError`` when embedding fails, so the task can be retried.
    """
    from companions.models import ChatMessage
    from companions.services.post_process import turn_load

    turn = turn_load(user_message_id)
    if turn is None or turn.assistant_message is None:
        return []
    if turn.user_message.turn_status != ChatMessage.TURN_REPLIED:
        return []
    user_msg, reply = turn.user_message, turn.assistant_message
    # A merged row may belong to another session of the user, so look across both layers.
    if CompanionMemory.objects.filter(
        Q(instance_id__isnull=True) | Q(instance_id=turn.session.instance_id),
        user_id=turn.session.user_id,
        source_message_ids__contains=[user_msg.id],
    ).exists():
        return []

    from personas.models import PersonaInstance

    persona_name = (
        PersonaInstance.objects.filter(id=turn.session.instance_id)
        .values_list("genome__name", flat=True)
        .first()
        or "Companion"
    )
    planned: list[dict] = []
    if user_msg.content.strip() and reply.content.strip():
        planned.append(
            {
                "instance_id": turn.session.instance_id,
                "content": (
                    f"User: {user_msg.content.strip()}\n{persona_name}: {reply.content.strip()}"
                ),
                "source_message_ids": [user_msg.id, reply.id],
            }
        )
    if user_msg.content.strip():
        planned.append(
            {
                "instance_id": None,
                "content": user_msg.content.strip(),
                "source_message_ids": [user_msg.id],
            }
        )
    if not planned:
        return []
    vectors = (embedder or get_embedder()).embed_documents([p["content"] for p in planned])
    writes = memory_upsert_many(
        [
            MemoryDraft(
                session_id=turn.session.id,
                user_id=turn.session.user_id,
                embedding=vector,
                occurred_at=user_msg.sent_at,
                **p,
            )
            for p, vector in zip(planned, vectors, strict=True)
        ]
    )
    return [w.memory for w in writes]
