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
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from eros.llm.base import Embedder
from eros.llm.providers import get_embedder
from memory.models import CompanionMemory
from memory.selectors import memory_text_config
from memory.services.writes import MemoryDraft, memory_upsert_many

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
                "content": f"User: {user_text}\n{exchange.persona_name}: {reply_text}",
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
