"""Memory writes: the two rows every replied turn leaves behind (DESIGN §5).

* relationship layer: the exchange (``User: …`` / ``<persona>: …``), for this persona instance;
* profile layer: the user's own words, shared across personas.

Both are embedded in one batch call (``input_type=document``) and cite their source messages.
The embedding call happens outside any transaction. A row that nearly repeats a live memory of
the same user and layer (cosine ≥ ``DEDUP_SIMILARITY``) updates it instead (``writes``).
When a reply is replaced by a new one (regenerated), :func:`memory_revise_exchange` brings the
exchange row up to date, so no memory quotes words the persona took back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from eros.llm.base import Embedder
from eros.llm.providers import get_embedder
from memory.models import CompanionMemory
from memory.selectors import memory_text_config
from memory.services.writes import MemoryDraft, memory_lock_user, memory_upsert_many

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Exchange:
    """One replied turn, as the memory app needs it: who, with which persona, what was said.

    ``instance_id`` is the persona instance (the relationship layer's key); ``sent_at`` is the
    user message's time, the memories' event time.
    """

    session_id: uuid.UUID
    user_id: uuid.UUID
    instance_id: uuid.UUID | None
    persona_name: str
    user_message_id: uuid.UUID
    user_text: str
    sent_at: datetime
    reply_message_id: uuid.UUID
    reply_text: str


def memory_write_exchange(
    *, exchange: Exchange, embedder: Embedder | None = None
) -> list[CompanionMemory]:
    """Write the relationship and profile rows of one exchange; idempotent per user message.

    Returns the rows written or merged into (empty when there is nothing to write, or when it
    was already written: some memory of the user, deleted or not, already cites the user
    message). Raises ``ProviderError`` when embedding fails, so the caller can retry.
    """
    # A merged row may belong to another session of the user, so look across both layers.
    if CompanionMemory.objects.filter(
        Q(instance_id__isnull=True) | Q(instance_id=exchange.instance_id),
        user_id=exchange.user_id,
        source_message_ids__contains=[exchange.user_message_id],
    ).exists():
        return []

    user_text, reply_text = exchange.user_text.strip(), exchange.reply_text.strip()
    planned: list[dict] = []
    if user_text and reply_text:
        planned.append(
            {
                "instance_id": exchange.instance_id,
                "content": exchange_text(exchange.persona_name, user_text, reply_text),
                "source_message_ids": [exchange.user_message_id, exchange.reply_message_id],
            }
        )
    if user_text:
        planned.append(
            {
                "instance_id": None,
                "content": user_text,
                "source_message_ids": [exchange.user_message_id],
            }
        )
    if not planned:
        return []
    vectors = (embedder or get_embedder()).embed_documents([p["content"] for p in planned])
    # Both rows are stemmed in the language of the exchange (the user's, when it can be told).
    ts_config = memory_text_config(user_id=exchange.user_id, texts=[user_text, reply_text])
    writes = memory_upsert_many(
        [
            MemoryDraft(
                session_id=exchange.session_id,
                user_id=exchange.user_id,
                embedding=vector,
                occurred_at=exchange.sent_at,
                ts_config=ts_config,
                **p,
            )
            for p, vector in zip(planned, vectors, strict=True)
        ]
    )
    return [w.memory for w in writes]


def exchange_text(persona_name: str, user_text: str, reply_text: str) -> str:
    """The relationship-layer text of one exchange: ``User: …`` then ``<persona>: …``."""
    return f"User: {user_text}\n{persona_name}: {reply_text}"


def memory_revise_exchange(
    *,
    exchange: Exchange,
    replaced: Sequence[tuple[uuid.UUID, str]],
    embedder: Embedder | None = None,
) -> list[CompanionMemory]:
    """Rewrite the exchange memory of a turn whose reply was replaced; idempotent.

    ``replaced`` holds ``(message id, text)`` of every earlier reply of the turn. A live
    relationship row citing one of them whose content is still that exchange's text gets the
    text of ``exchange`` (the current reply), a new embedding, and the new reply's id in
    place of the old one in its sources. A row merged into or edited since no longer matches
    and is left alone. Returns the rows rewritten. Raises ``ProviderError`` when embedding
    fails (nothing is written; the caller may retry).
    """
    if exchange.instance_id is None or not replaced:  # no relationship layer to revise
        return []
    old_ids = [message_id for message_id, _ in replaced]
    user_text = exchange.user_text.strip()
    old_texts = {
        exchange_text(exchange.persona_name, user_text, text.strip()) for _, text in replaced
    }
    live = CompanionMemory.objects.filter(
        user_id=exchange.user_id,
        instance_id=exchange.instance_id,
        deleted_at__isnull=True,
        source_message_ids__overlap=old_ids,
    )
    targets = [m.id for m in live.only("id", "content") if m.content in old_texts]
    if not targets:
        return []
    text = exchange_text(exchange.persona_name, user_text, exchange.reply_text.strip())
    vector = (embedder or get_embedder()).embed_documents([text])[0]
    revised: list[CompanionMemory] = []
    with transaction.atomic():
        memory_lock_user(exchange.user_id)
        for memory in live.filter(id__in=targets).select_for_update():
            if memory.content not in old_texts:  # merged into or edited meanwhile
                continue
            sources = [
                exchange.reply_message_id if source in old_ids else source
                for source in memory.source_message_ids
            ]
            memory.content = text
            memory.embedding = vector
            memory.source_message_ids = list(dict.fromkeys(sources))
            memory.updated_at = timezone.now()
            memory.save(update_fields=["content", "embedding", "source_message_ids", "updated_at"])
            revised.append(memory)
    return revised
