"""Dreaming: distil idle sessions into categorised profile memories (DESIGN §7).

A sweeper claims one idle session at a time with a single ``UPDATE … FOR UPDATE SKIP LOCKED``
statement, so any number of sweepers (threads, processes, hosts) can run at once and never
work on the same session. No transaction is held across the model or embedding calls.

* Eligible: idle for ``DREAMING_IDLE_SECS`` and holding user/assistant messages newer than its
  ``classified_at`` (so a resumed session is distilled again, over the new messages only),
  not claimed by a live sweeper (a claim older than ``DREAMING_CLAIM_STALE_SECS`` is dead), and
  not waiting out a retry backoff.
* One ``memory_extraction`` call over the new messages; at most 10 candidates; categories
  normalised (``fact``, ``preference``, ``event``, ``emotion``, ``relation``; unknown →
  ``fact``); each memory cites source message ids from that batch; a candidate with cosine
  similarity ≥ ``DEDUP_SIMILARITY`` to an existing memory of the same user, layer and category
  updates that memory instead of adding a row.
* Outcomes: success or an unparsable answer stamps ``classified_at`` (no poison loops); a
  provider failure releases the claim, bumps ``classification_attempts`` and sets a backoff;
  after ``DREAMING_MAX_ATTEMPTS`` failures those messages are given up (stamped).
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from pgvector.django import CosineDistance

from eros.llm.base import TASK_MEMORY, ChatModel, ChatRequest, Embedder, ProviderError
from eros.llm.base import ChatMessage as LlmMessage
from eros.llm.jsonblock import parse_json_object
from eros.llm.providers import get_chat_model, get_embedder, get_model_config
from memory.models import CATEGORIES, CompanionMemory

logger = logging.getLogger(__name__)

MAX_CANDIDATES = 10
SCHEDULE_NAME = "eros-dreaming"

_CLAIM_SQL = """
UPDATE chat_sessions SET classification_claimed_at = %(now)s
WHERE id IN (
    SELECT s.id FROM chat_sessions s
    WHERE s.last_active_at < %(idle_cutoff)s
      AND (s.classification_claimed_at IS NULL OR s.classification_claimed_at < %(stale_cutoff)s)
      AND (s.next_classification_at IS NULL OR s.next_classification_at <= %(now)s)
      AND EXISTS (
          SELECT 1 FROM chat_messages m
          WHERE m.session_id = s.id AND m.role IN ('user', 'assistant')
            AND (s.classified_at IS NULL OR m.sent_at > s.classified_at))
    ORDER BY s.last_active_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED)
RETURNING id, user_id, instance_id, classified_at, classification_attempts
"""


@dataclass(frozen=True)
class Candidate:
    content: str
    category: str
    source_message_ids: tuple[uuid.UUID, ...]


def normalise_category(value: object) -> str:
    """Trimmed, lower-cased category if known, else ``fact`` (reference server §6.12)."""
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if text in CATEGORIES else "fact"


def parse_candidates(text: str, *, allowed_ids: set[str]) -> list[Candidate] | None:
    """Memory candidates from a model answer, or None when it holds no JSON object.

    Items lacking a string ``content`` or ``category`` are dropped one by one; at most 10 are
    kept; cited ids outside the batch are dropped.
    """
    data = parse_json_object(text)
    if data is None:
        return None
    items = data.get("memories")
    if not isinstance(items, list):
        return []
    out: list[Candidate] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        content, category = item.get("content"), item.get("category")
        if not isinstance(content, str) or not isinstance(category, str) or not content.strip():
            continue
        sources = item.get("source_message_ids") or []
        cited = tuple(uuid.UUID(s) for s in sources if isinstance(s, str) and s in allowed_ids)
        out.append(Candidate(content.strip(), normalise_category(category), cited))
        if len(out) == MAX_CANDIDATES:
            break
    return out


def _claim(now: datetime):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {
                "now": now,
                "idle_cutoff": now - timedelta(seconds=settings.DREAMING_IDLE_SECS),
                "stale_cutoff": now - timedelta(seconds=settings.DREAMING_CLAIM_STALE_SECS),
            },
        )
        return cursor.fetchone()


def _store(*, session_id, user_id, candidates, vectors, fallback_sources, occurred_at) -> int:
    written = 0
    with transaction.atomic():
        for cand, vector in zip(candidates, vectors, strict=True):
            sources = list(cand.source_message_ids or fallback_sources)
            twin = (
                CompanionMemory.objects.select_for_update()
                .filter(
                    user_id=user_id,
                    instance_id__isnull=True,
                    category=cand.category,
                    deleted_at__isnull=True,
                )
                .annotate(distance=CosineDistance("embedding", vector))
                .filter(distance__lte=1 - settings.DEDUP_SIMILARITY)
                .order_by("distance")
                .first()
            )
            now = timezone.now()
            if twin is not None:
                twin.content = cand.content
                twin.embedding = vector
                twin.source_message_ids = list(dict.fromkeys([*twin.source_message_ids, *sources]))
                twin.updated_at = now
                twin.save(
                    update_fields=["content", "embedding", "source_message_ids", "updated_at"]
                )
            else:
                CompanionMemory.objects.create(
                    session_id=session_id,
                    user_id=user_id,
                    instance_id=None,
                    content=cand.content,
                    embedding=vector,
                    category=cand.category,
                    source_message_ids=sources,
                    occurred_at=occurred_at,
                )
            written += 1
    return written


def _finish(session_id, *, classified_at) -> None:
    from companions.models import ChatSession

    ChatSession.objects.filter(id=session_id).update(
        classified_at=classified_at,
        classification_claimed_at=None,
        classification_attempts=0,
        next_classification_at=None,
    )


def dreaming_sweep_one(
    *,
    now: datetime | None = None,
    chat_model: ChatModel | None = None,
    embedder: Embedder | None = None,
) -> bool:
    """Claim and distil one idle session; False when nothing is eligible.

    A crash after the claim loses nothing: the claim goes stale and the session is claimed again.
    """
    from companions.models import ChatMessage, ChatSession

    now = now or timezone.now()
    claimed = _claim(now)
    if claimed is None:
        return False
    session_id, user_id, instance_id, classified_at, attempts = claimed
    messages = list(
        ChatMessage.objects.filter(
            session_id=session_id, role__in=[ChatMessage.ROLE_USER, ChatMessage.ROLE_ASSISTANT]
        )
        .filter(**({"sent_at__gt": classified_at} if classified_at else {}))
        .order_by("sent_at")
        .values("id", "role", "content", "sent_at")
    )
    if not messages:
        _finish(session_id, classified_at=classified_at or now)
        return True
    newest = messages[-1]["sent_at"]
    resolved = get_model_config().resolve(TASK_MEMORY)
    transcript = "\n".join(
        f"[{m['id']}] {'User' if m['role'] == 'user' else 'Companion'}: {m['content']}"
        for m in messages
    )
    prompt = (
        "This conversation has paused. Extract up to 10 long-term memories about the USER "
        "(not the companion): facts, preferences, events, emotions, relations with others. "
        "Skip small talk and jokes; merge duplicates; cite the [ids] of the messages each "
        "memory comes from.\n\n"
        f"{transcript}\n\n"
        'Answer with JSON only: {"memories": [{"content": "...", "category": "fact|preference|'
        'event|emotion|relation", "source_message_ids": ["..."]}]}'
    )
    payload_messages = [
        {"id": str(m["id"]), "role": m["role"], "content": m["content"]} for m in messages
    ]
    try:
        answer = (chat_model or get_chat_model()).complete(
            ChatRequest(
                task=TASK_MEMORY,
                model=resolved.model,
                fallback_model=resolved.fallback_model,
                messages=(LlmMessage("user", prompt),),
                temperature=resolved.temperature,
                max_tokens=resolved.max_tokens,
                payload={"messages": payload_messages},
            )
        )
        candidates = parse_candidates(answer.text, allowed_ids={p["id"] for p in payload_messages})
        if candidates:
            vectors = (embedder or get_embedder()).embed_documents([c.content for c in candidates])
            _store(
                session_id=session_id,
                user_id=user_id,
                candidates=candidates,
                vectors=vectors,
                fallback_sources=[m["id"] for m in messages if m["role"] == "user"],
                occurred_at=newest,
            )
    except ProviderError as exc:
        attempts += 1
        if attempts >= settings.DREAMING_MAX_ATTEMPTS:
            logger.warning(
                "dreaming gave up on session %s after %s attempts: %s", session_id, attempts, exc
            )
            _finish(session_id, classified_at=newest)
        else:
            backoff = max(settings.DREAMING_TICK_SECS, 30) * 2 ** (attempts - 1)
            ChatSession.objects.filter(id=session_id).update(
                classification_claimed_at=None,
                classification_attempts=attempts,
                next_classification_at=now + timedelta(seconds=backoff),
            )
        return True
    # Success, or an answer without JSON (stamped so it cannot loop).
    _finish(session_id, classified_at=newest)
    return True


def dreaming_sweep(*, max_items: int = 50, max_seconds: float = 60.0, **kwargs) -> int:
    """Distil idle sessions until none is eligible or a budget runs out; returns the count."""
    done = 0
    deadline = time.monotonic() + max_seconds
    while done < max_items and time.monotonic() < deadline:
        if not dreaming_sweep_one(**kwargs):
            break
        done += 1
    return done


def dreaming_schedule_ensure() -> str:
    """Create, update or remove the django-q2 schedule that runs dreaming; describe it."""
    from django_q.models import Schedule

    if settings.DREAMING_DISABLED or settings.DREAMING_TICK_SECS == 0:
        Schedule.objects.filter(name=SCHEDULE_NAME).delete()
        return "(dreaming disabled)"
    minutes = max(1, math.ceil(settings.DREAMING_TICK_SECS / 60))
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "memory.tasks.dreaming_tick",
            "schedule_type": Schedule.MINUTES,
            "minutes": minutes,
            "repeats": -1,
        },
    )
    return f"(every {minutes} min)"
