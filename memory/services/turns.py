"""Memory writes of one replied turn: memories, not transcripts (DESIGN §5, §7).

A turn leaves behind only what the post-process's extraction read from it, never the lines
themselves:

* profile layer: the facts about the user (``"lives in Porto"`` → ``"Lives in Porto"``),
  category ``preference`` for likes and dislikes, else ``fact``;
* relationship layer: the moment worth a callback, if any (``"Shared: feels nervous about the
  interview"``), for this persona instance, category ``emotion`` when it names a feeling,
  else ``event``.

Each row cites the user message and the reply. A question, greeting or acknowledgement yields
no fact and no moment, so it never becomes a memory. The facts and the moment are embedded in
one batch call (``input_type=document``) before the structure step, so the step can be shown
the remembered memories each fact may update (:func:`memory_turn_prepare`); the decisions
then go into :func:`~memory.services.writes.memory_upsert_many` (supersede, merge or add).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import FloatField, Value
from pgvector.django import CosineDistance

from eros.llm.base import Embedder
from eros.llm.offline.extraction import FEELING_WORD
from eros.llm.offline.text import capitalise
from eros.llm.providers import get_embedder
from memory.models import CompanionMemory
from memory.selectors import memory_text_config
from memory.services.writes import MemoryDraft
from memory.slots import slot_of

#: Remembered memories shown per fact to the model that decides add / update / none.
CANDIDATES_PER_FACT = 3
#: At most this many remembered memories are shown for one turn.
MAX_CANDIDATES = 10
#: A remembered memory less similar than this (cosine) to a fact is not shown for it, unless
#: it holds the same slot (``memory.slots``).
CANDIDATE_FLOOR = 0.3

_PREFERENCE = re.compile(
    r"^(?:likes|loves|enjoys|adores|prefers|is into|is a fan of|dislikes|hates|"
    r"can't stand|doesn't like|does not like)\b",
    re.IGNORECASE,
)

ACTION_UPDATE, ACTION_NONE = "update", "none"


def fact_memory(fact: str) -> tuple[str, str]:
    """``(content, category)`` of the memory a fact becomes: capitalised; ``preference`` for
    likes and dislikes, else ``fact``."""
    text = " ".join(fact.split()).rstrip(".")
    return capitalise(text), "preference" if _PREFERENCE.match(text) else "fact"


def moment_memory(moment: str) -> tuple[str, str]:
    """``(content, category)`` of the relationship memory a moment becomes: ``emotion`` when
    it names a feeling, else ``event``."""
    text = " ".join(moment.split())
    return capitalise(text), "emotion" if FEELING_WORD.search(text) else "event"


@dataclass(frozen=True)
class TurnMemories:
    """One replied turn, as the memory app needs it, with what extraction read from it.

    ``instance_id`` is the persona instance (the relationship layer's key); ``sent_at`` is the
    user message's time, the memories' event time; ``facts`` and ``moment`` come from the
    insight extraction's first step.
    """

    session_id: uuid.UUID
    user_id: uuid.UUID
    instance_id: uuid.UUID | None
    user_message_id: uuid.UUID
    reply_message_id: uuid.UUID | None
    user_text: str
    sent_at: datetime
    facts: tuple[str, ...] = ()
    moment: str = ""


@dataclass(frozen=True)
class TurnPlan:
    """A turn's memories embedded, and the remembered memories a model may be shown.

    ``remembered`` holds ``(ref, content)`` pairs (refs ``m1``, ``m2`` …) for the structure
    step's prompt; :meth:`drafts` turns the model's decisions into drafts.
    """

    turn: TurnMemories
    contents: tuple[tuple[str, str], ...]  # (content, category) per fact
    vectors: tuple[Sequence[float], ...]  # per fact, then the moment's
    ts_config: str
    remembered: tuple[tuple[str, str], ...] = ()
    refs: Mapping[str, uuid.UUID] = field(default_factory=dict)

    def drafts(self, decisions: Mapping[int, tuple[str, str | None]] = ()) -> list[MemoryDraft]:
        """Drafts for :func:`~memory.services.writes.memory_upsert_many`.

        ``decisions`` maps a fact's index to ``(action, ref)``: ``none`` drops the fact
        (already remembered), ``update`` makes it supersede the memory ``ref`` names, ``add``
        (or no decision) leaves it to the writer's slot rules and near-duplicate merge.
        """
        turn = self.turn
        sources = [turn.user_message_id]
        if turn.reply_message_id is not None:
            sources.append(turn.reply_message_id)
        out = []
        for index, (content, category) in enumerate(self.contents):
            action, ref = dict(decisions).get(index, ("add", None))
            if action == ACTION_NONE:
                continue
            out.append(
                MemoryDraft(
                    session_id=turn.session_id,
                    user_id=turn.user_id,
                    instance_id=None,
                    content=content,
                    embedding=self.vectors[index],
                    category=category,
                    source_message_ids=sources,
                    occurred_at=turn.sent_at,
                    ts_config=self.ts_config,
                    supersedes=self.refs.get(ref) if action == ACTION_UPDATE and ref else None,
                )
            )
        if turn.moment and turn.instance_id is not None:
            content, category = moment_memory(turn.moment)
            out.append(
                MemoryDraft(
                    session_id=turn.session_id,
                    user_id=turn.user_id,
                    instance_id=turn.instance_id,
                    content=content,
                    embedding=self.vectors[len(self.contents)],
                    category=category,
                    source_message_ids=sources,
                    occurred_at=turn.sent_at,
                    ts_config=self.ts_config,
                )
            )
        return out


def memory_turn_prepare(*, turn: TurnMemories, embedder: Embedder | None = None) -> TurnPlan:
    """Embed a turn's facts and moment (one batch call) and find what they may update.

    For each fact: the :data:`CANDIDATES_PER_FACT` current profile memories most similar to
    it (cosine ≥ :data:`CANDIDATE_FLOOR`) and any current memory of the same slot; at most
    :data:`MAX_CANDIDATES` in all, shown as ``m1`` … ``mN``. Nothing to embed → no call.
    Raises ``ProviderError`` when embedding fails (nothing is written).
    """
    contents = tuple(fact_memory(f) for f in turn.facts)
    texts = [c for c, _ in contents]
    if turn.moment and turn.instance_id is not None:
        texts.append(moment_memory(turn.moment)[0])
    if not texts:
        return TurnPlan(turn, contents, (), "simple")
    vectors = tuple((embedder or get_embedder()).embed_documents(texts))
    ts_config = memory_text_config(user_id=turn.user_id, texts=[turn.user_text])
    found: dict[uuid.UUID, str] = {}
    current = CompanionMemory.objects.current(turn.user_id).filter(category__isnull=False)
    for (content, _), vector in zip(contents, vectors, strict=False):
        slot = slot_of(content)
        if slot is not None:
            for row in current.filter(slot=slot.key).only("id", "content")[:MAX_CANDIDATES]:
                found.setdefault(row.id, row.content)
        near = (
            current.annotate(
                similarity=Value(1.0, output_field=FloatField())
                - CosineDistance("embedding", vector)
            )
            .filter(similarity__gte=CANDIDATE_FLOOR)
            .order_by("-similarity", "id")
            .only("id", "content")[:CANDIDATES_PER_FACT]
        )
        for row in near:
            found.setdefault(row.id, row.content)
    picked = list(found.items())[:MAX_CANDIDATES]
    refs = {f"m{i}": memory_id for i, (memory_id, _) in enumerate(picked, 1)}
    remembered = tuple((f"m{i}", content) for i, (_, content) in enumerate(picked, 1))
    return TurnPlan(turn, contents, vectors, ts_config, remembered, refs)
