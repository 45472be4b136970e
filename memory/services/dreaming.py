"""Dreaming's distillation step: one paused conversation in, categorised memories out (DESIGN §7).

The claim loop that picks idle sessions, and stamps or releases them, belongs to the chat
sessions (``companions.services.dreaming``); this module takes the conversation as plain
values and returns what to write:

* one ``memory_extraction`` call over the new messages, shown the user's current profile
  memories (:func:`dreaming_remembered`: up to :data:`MAX_REMEMBERED`, the ones that fill a
  slot first, then the newest) as ``m1`` … ``mN``, so the model can say which one a new
  memory updates (``"updates": "m2"``: a move, a new job, a renamed pet, a worry settled) and
  leave out what it already holds, as the per-turn step does; at most 10 candidates; categories
  normalised (``fact``, ``preference``, ``event``, ``emotion``, ``relation``; unknown →
  ``fact``); each memory cites source message ids from that batch (or, citing none, the
  batch's user messages); an ``updates`` naming no shown memory is ignored;
* the candidates embedded in one batch call (``input_type=document``);
* the result as :class:`~memory.services.writes.MemoryDraft` rows for
  :func:`~memory.services.writes.memory_upsert_many`, which merges a candidate with cosine
  similarity ≥ ``DEDUP_SIMILARITY`` to an existing memory of the same user, layer and category
  into that memory instead of adding a row.

No transaction is opened here: the caller writes the drafts in its own transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, IntegerField, Value, When

from eros.llm.base import TASK_MEMORY, ChatModel, ChatRequest, Embedder
from eros.llm.base import ChatMessage as LlmMessage
from eros.llm.jsonblock import parse_json_object
from eros.llm.providers import get_chat_model, get_embedder, get_model_config
from memory.importance import clamp_importance
from memory.models import CATEGORIES, CompanionMemory
from memory.selectors import memory_text_config
from memory.services.writes import MemoryDraft

MAX_CANDIDATES = 10
#: At most this many current memories are shown to the ``memory_extraction`` model.
MAX_REMEMBERED = 30


@dataclass(frozen=True)
class Candidate:
    content: str
    category: str
    source_message_ids: tuple[uuid.UUID, ...]
    #: The model's score in [0, 1], or None when it gave none (cues score it on write).
    importance: float | None = None
    #: The shown memory this one updates (the model's ``updates``), or None.
    supersedes: uuid.UUID | None = None


def parse_importance(value: object) -> float | None:
    """A number in [0, 1] (clamped), or None for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value:  # NaN
        return None
    return clamp_importance(value)


def normalise_category(value: object) -> str:
    """Trimmed, lower-cased category if known, else ``fact`` (reference server §6.12)."""
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if text in CATEGORIES else "fact"


def parse_candidates(
    text: str, *, allowed_ids: set[str], refs: dict[str, uuid.UUID] | None = None
) -> list[Candidate] | None:
    """Memory candidates from a model answer, or None when it holds no JSON object.

    Items lacking a string ``content`` or ``category`` are dropped one by one; at most 10 are
    kept; cited ids outside the batch are dropped; ``importance`` is kept when it is a number
    (clamped to [0, 1]); ``updates`` (``"m2"``) becomes ``supersedes`` when ``refs`` (the
    shown memories, ``m<i>`` → id) holds it, else it is ignored.
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
        out.append(
            Candidate(
                content.strip(),
                normalise_category(category),
                cited,
                parse_importance(item.get("importance")),
                _updated(item.get("updates"), refs),
            )
        )
        if len(out) == MAX_CANDIDATES:
            break
    return out


def _updated(value: object, refs: dict[str, uuid.UUID] | None) -> uuid.UUID | None:
    """The shown memory an ``updates`` value names, or None."""
    return (refs or {}).get(value.strip()) if isinstance(value, str) else None


def _prompt(messages: list[dict], remembered: Sequence[tuple[str, str]] = ()) -> str:
    # Each text is quoted as a JSON string, so one message is one line whatever it contains.
    transcript = "\n".join(
        f"[{m['id']}] {'User' if m['role'] == 'user' else 'Companion'}: "
        f"{json.dumps(m['content'], ensure_ascii=False)}"
        for m in messages
    )
    known = ""
    if remembered:
        lines = "\n".join(
            f"- {ref}: {json.dumps(content, ensure_ascii=False)}" for ref, content in remembered
        )
        known = (
            "Remembered (what you already know about the user, current):\n"
            f"{lines}\n"
            "When a new memory changes one of these (a move, a new job, a renamed pet, news "
            'about a worry), give it "updates" with that id; do not repeat what they already '
            "say.\n\n"
        )
    return (
        "This conversation has paused. Extract up to 10 long-term memories about the USER "
        "(not the companion): facts, preferences, events, emotions, relations with others. "
        "Skip small talk and jokes; merge duplicates; cite the [ids] of the messages each "
        "memory comes from. Write each memory in the third person, without quoting the user. "
        "Rate each memory's importance from 0 (trivia) to 1 (core to who the user is or a "
        "major life event).\n\n"
        f"{known}{transcript}\n\n"
        'Answer with JSON only: {"memories": [{"content": "...", "category": "fact|preference|'
        'event|emotion|relation", "importance": 0.5, "source_message_ids": ["..."], '
        '"updates": "m1 or null"}]}'
    )


def dreaming_remembered(
    *, user_id: uuid.UUID, limit: int = MAX_REMEMBERED
) -> tuple[tuple[tuple[str, str], ...], dict[str, uuid.UUID]]:
    """The user's current profile memories to show the ``memory_extraction`` model.

    Returns ``((("m1", content), …), {"m1": id, …})``: at most ``limit`` current (not
    superseded, not forgotten, categorised) profile-layer memories, the ones that fill a slot
    first (they are what a conversation changes), then the newest in event time. One query.
    """
    rows = (
        CompanionMemory.objects.current(user_id)
        .filter(category__isnull=False)
        .annotate(
            unslotted=Case(
                When(slot__isnull=True, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )
        .order_by("unslotted", "-occurred_at", "id")
        .values_list("id", "content")[:limit]
    )
    shown = [(f"m{i}", memory_id, content) for i, (memory_id, content) in enumerate(rows, 1)]
    refs = {ref: memory_id for ref, memory_id, _ in shown}
    return tuple((ref, content) for ref, _, content in shown), refs


@dataclass(frozen=True)
class TranscriptLine:
    """One message of the conversation to distil: its id, ``user`` or ``assistant``, its text."""

    id: uuid.UUID
    role: str
    content: str


@dataclass(frozen=True)
class Distillation:
    """What a conversation distilled into.

    ``candidates`` is None when the model's answer held no JSON object (nothing to write, but
    the conversation counts as read), else the parsed candidates (maybe empty); ``drafts`` are
    the candidates embedded and ready for ``memory_upsert_many``, in the same order.
    """

    candidates: list[Candidate] | None
    drafts: list[MemoryDraft]


def dreaming_distil(
    *,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    lines: Sequence[TranscriptLine],
    occurred_at: datetime,
    chat_model: ChatModel | None = None,
    embedder: Embedder | None = None,
) -> Distillation:
    """Ask the ``memory_extraction`` model for memories of ``lines`` and embed them.

    The drafts are profile-layer rows of ``user_id`` from ``session_id``, with event time
    ``occurred_at`` (the newest message). Raises ``ProviderError`` when the model or the
    embedder fails; nothing is written either way.
    """
    transcript = [{"id": str(m.id), "role": m.role, "content": m.content} for m in lines]
    remembered, refs = dreaming_remembered(user_id=user_id)
    resolved = get_model_config().resolve(TASK_MEMORY)
    answer = (chat_model or get_chat_model()).complete(
        ChatRequest(
            task=TASK_MEMORY,
            model=resolved.model,
            fallback_model=resolved.fallback_model,
            messages=(LlmMessage("user", _prompt(transcript, remembered)),),
            temperature=resolved.temperature,
            max_tokens=resolved.max_tokens,
        )
    )
    candidates = parse_candidates(answer.text, allowed_ids={m["id"] for m in transcript}, refs=refs)
    if not candidates:
        return Distillation(candidates, [])
    vectors = (embedder or get_embedder()).embed_documents([c.content for c in candidates])
    user_sources = [m.id for m in lines if m.role == "user"]
    # The memories are stemmed in the user's language, told from all their lines at once.
    ts_config = memory_text_config(
        user_id=user_id, texts=[m.content for m in lines if m.role == "user"]
    )
    drafts = [
        MemoryDraft(
            session_id=session_id,
            user_id=user_id,
            instance_id=None,
            content=cand.content,
            embedding=vector,
            category=cand.category,
            source_message_ids=cand.source_message_ids or user_sources,
            occurred_at=occurred_at,
            importance=cand.importance,
            ts_config=ts_config,
            supersedes=cand.supersedes,
        )
        for cand, vector in zip(candidates, vectors, strict=True)
    ]
    return Distillation(candidates, drafts)
