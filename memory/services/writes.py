"""Memory writes: supersession of changed facts and near-duplicate merging (DESIGN §5, §7).

Every draft is written in one of three ways, decided in this order:

1. **Supersede.** The draft is a new value of a slot (``memory.slots``: where the user lives,
   their job, a pet's name, a live concern…) whose current memory says something else, or
   the model that proposed it named the memory it updates (``MemoryDraft.supersedes``). The
   draft becomes a new row; the old one keeps its text and gains ``valid_to`` (the draft's
   event time, when it stopped being true) and ``superseded_by``. Event time decides which is
   newer: a draft older than the memory it would replace is stored already superseded by it.
   A draft with no slot of its own that tells a named being died or was lost
   (``memory.losses``: "Pickle died this morning", "Had to put Rufus down", "Biscuit ran
   away") ends the current memory, of the same user and layer, whose ``pet:*`` or ``name:*``
   slot value is that name (compared as ``memory.slots.normalise_value`` compares values; a
   pet that ran away or went missing ends a ``pet:*`` slot only): the draft takes that slot
   and supersedes the rows holding the name, with the same event-time rules. Several slots
   holding the name: the one of the newest such memory (event time). The user's named slots
   are looked up only when the draft's text tells a loss.
   A draft with no slot of its own that tells the user gave something up (``memory.stops``:
   "Quit pottery", "Stopped going to the gym", "No longer plays chess") supersedes the current
   memories of the same user and layer that say they do it ("Started a pottery class", "Goes
   to the gym every morning": the same thing by the stops module's stemmed head word), except
   pinned ones and ones that tell a stop themselves. The draft keeps no slot. Event time, for a
   stop: a memory told before it ends at it; a memory of doing it told *after* it (the user
   took it up again) stays current, and the draft is stored already superseded by the
   earliest such memory, when it stopped being true. The user's memories are looked up (one
   query, narrowed in SQL to rows containing a stem) only when the draft's text tells a stop;
   work ("Quit the bank") is the workplace slot's and tells none.
2. **Merge.** The draft repeats a current memory: cosine similarity ≥ ``DEDUP_SIMILARITY``
   (default 0.92) to a current memory of the same user, layer (and persona instance, for the
   relationship layer), category and slot. (Two memories of one slot and value agree; both
   stay unless they are near-twins.) That memory is updated
   (content, embedding, sources union, ``updated_at``) instead of adding a row.
3. **Add** a row.

Writes for one user are serialised by a transaction-scoped advisory lock, so two workers
distilling the same user's sessions at once cannot both insert the same memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import FloatField, Q, Value
from django.utils import timezone
from pgvector.django import CosineDistance

from memory.embedding_dim import embedding_dim_guard
from memory.importance import clamp_importance, importance_from_cues
from memory.language import text_search_config
from memory.losses import ENDED_PREFIXES, losses
from memory.models import CompanionMemory
from memory.slots import CONCERN, mentions, normalise_value, slot_of, slot_value
from memory.stops import doings, stem, stopped_stems

#: First key of the two-key advisory lock taken per user while writing memories ("mem").
_LOCK_CLASS = 0x6D656D


@dataclass(frozen=True)
class MemoryDraft:
    """A memory to write. ``instance_id`` None = profile layer; ``category`` None = raw row."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    instance_id: uuid.UUID | None
    content: str
    embedding: Sequence[float]
    category: str | None = None
    source_message_ids: Sequence[uuid.UUID] = field(default_factory=tuple)
    occurred_at: datetime | None = None
    #: In [0, 1]; None: scored from the content's cues (``memory.importance``).
    importance: float | None = None
    #: Text-search configuration (``memory.language``); None: detected from the content.
    ts_config: str | None = None
    #: A current memory of the same user and layer this draft replaces (a model's "update").
    supersedes: uuid.UUID | None = None


@dataclass(frozen=True)
class MemoryWrite:
    """The row a draft ended in, whether it was inserted (False: merged into a twin), and the
    rows it superseded (their ``valid_to`` and ``superseded_by`` now set)."""

    memory: CompanionMemory
    created: bool
    superseded: tuple[CompanionMemory, ...] = ()


def memory_lock_user(user_id: uuid.UUID) -> None:
    """Take the per-user memory write lock until the end of the current transaction.

    Precondition: inside ``transaction.atomic()``.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_LOCK_CLASS, str(user_id)]
        )


def memory_find_twin(
    *,
    user_id: uuid.UUID,
    instance_id: uuid.UUID | None,
    category: str | None,
    embedding: Sequence[float],
    threshold: float | None = None,
    lock: bool = False,
    slot: str | None | object = ...,
) -> CompanionMemory | None:
    """The current memory of the same user, layer/instance and category most similar to
    ``embedding``, if its cosine similarity is ≥ ``threshold`` (``DEDUP_SIMILARITY``).

    ``slot`` (when given, None included) also requires the same slot key: two values of one
    slot are a change, never a duplicate, however alike their texts embed. With a slot key the
    category is not compared: one slot holds one fact, and "Is divorced" read by the turn as a
    ``fact`` and by dreaming as a ``relation`` is still one memory.

    Exact: it ranks by ``1 − distance``, which the HNSW index cannot serve, so the planner scans
    the user's rows instead of filtering an approximate top-40. ``lock`` adds ``FOR UPDATE``.
    """
    threshold = settings.DEDUP_SIMILARITY if threshold is None else threshold
    rows = _current(user_id, instance_id)
    if not isinstance(slot, str):
        rows = (
            rows.filter(category__isnull=True)
            if category is None
            else rows.filter(category=category)
        )
    if slot is not ...:
        rows = rows.filter(slot__isnull=True) if slot is None else rows.filter(slot=slot)
    if lock:
        rows = rows.select_for_update(of=("self",))
    return (
        rows.annotate(
            similarity=Value(1.0, output_field=FloatField())
            - CosineDistance("embedding", embedding)
        )
        .filter(similarity__gte=threshold)
        .order_by("-similarity", "id")
        .first()
    )


def _current(user_id: uuid.UUID, instance_id: uuid.UUID | None):
    """Current (not forgotten, not superseded) memories of one user and layer."""
    return CompanionMemory.objects.current(user_id, instance_id)


def draft_slot(draft: MemoryDraft) -> tuple[str, str] | None:
    """``(slot key, value)`` of a draft: by the slot rules, or the subject of a current concern
    of the user that the draft mentions ("the surgery went well" answers "worried about the
    surgery"). Preferences never answer a concern."""
    return memory_slot_of(
        user_id=draft.user_id,
        instance_id=draft.instance_id,
        content=draft.content,
        category=draft.category,
    )


def memory_slot_of(
    *, user_id: uuid.UUID, instance_id: uuid.UUID | None, content: str, category: str | None
) -> tuple[str, str] | None:
    """``(slot key, value)`` of a memory text of ``user_id`` in a layer (``instance_id`` None:
    profile): :func:`draft_slot`'s rule for a text that is not a draft. At most one query (the
    user's current concerns), and none when the slot rules tell."""
    found = slot_of(content)
    if found is not None:
        return found.key, found.value
    if category == "preference":
        return None
    concerns = (
        _current(user_id, instance_id)
        .filter(slot__startswith=CONCERN)
        .values_list("slot", flat=True)
        .distinct()
    )
    for key in sorted(concerns):
        if mentions(content, key.removeprefix(CONCERN)):
            return key, slot_value(key, content)
    return None


def memory_loss_slot(
    *, user_id: uuid.UUID, instance_id: uuid.UUID | None, content: str, lock: bool = False
) -> tuple[str, list[CompanionMemory]] | None:
    """The slot a memory text telling a loss takes, and the current rows it ends; or None.

    ``content`` tells that a named being died or was lost (:func:`memory.losses.losses`); the
    rows are the current memories of ``user_id`` in the layer (``instance_id`` None: profile)
    of a ``pet:*`` or ``name:*`` slot whose value is that name (``memory.slots.normalise_value``
    equality; a pet gone ends ``pet:*`` slots only). Of several slots, the newest such row's
    (event time, then creation). None when the text tells no loss or no current memory holds
    the name. One query (``lock``: ``FOR UPDATE``), and none when the text tells no loss.
    """
    told = losses(content)
    if not told:
        return None
    prefixes = Q()
    for prefix in ENDED_PREFIXES:
        prefixes |= Q(slot__startswith=prefix)
    rows = (
        _current(user_id, instance_id)
        .filter(prefixes)
        .defer("embedding")
        .order_by("-occurred_at", "-created_at", "id")
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    named = [(row, slot_value(row.slot, row.content)) for row in rows]
    for row, value in named:
        if any(loss.ends(row.slot) and value == normalise_value(loss.name) for loss in told):
            return row.slot, [r for r, v in named if r.slot == row.slot and v == value]
    return None


def memory_stopped_rows(
    *, user_id: uuid.UUID, instance_id: uuid.UUID | None, content: str, lock: bool = False
) -> list[CompanionMemory]:
    """The current memories a memory text telling a stop ends, oldest first (event time, then
    creation); ``[]`` when it tells none.

    ``content`` tells that the user gave something up (:func:`memory.stops.stops`); the rows
    are the current memories of ``user_id`` in the layer (``instance_id`` None: profile), not
    pinned, that say the user does one of those things (:func:`memory.stops.doings`, compared
    by :func:`memory.stops.stem`) and tell no stop themselves. One query, on the rows whose
    text contains a stem (``lock``: ``FOR UPDATE``), and none when the text tells no stop.
    """
    stems = stopped_stems(content)
    if not stems:
        return []
    mentioned = Q()
    for word in sorted(stems):
        mentioned |= Q(content__icontains=word)
    rows = (
        _current(user_id, instance_id)
        .filter(mentioned, pinned=False)
        .defer("embedding")
        .order_by("occurred_at", "created_at", "id")
    )
    if lock:
        rows = rows.select_for_update(of=("self",))
    return [row for row in rows if not stems.isdisjoint(stem(h) for h in doings(row.content))]


def _supersede(old: CompanionMemory, new: CompanionMemory) -> None:
    """Mark ``old`` as replaced by ``new`` from ``new``'s event time on."""
    old.valid_to = max(new.occurred_at, old.occurred_at)
    old.superseded_by = new
    old.updated_at = timezone.now()
    old.save(update_fields=["valid_to", "superseded_by", "updated_at"])


def memory_upsert_many(drafts: Sequence[MemoryDraft]) -> list[MemoryWrite]:
    """Write drafts in order, merging each into its near-duplicate when one exists.

    Each draft supersedes, merges or adds (module docstring). Runs in one transaction
    (joining the caller's, if any) holding the advisory lock of every user involved; a draft
    can merge into, or supersede, a row written earlier in the same call. The merged
    row keeps its id, session, ``occurred_at`` and ``created_at``; its sources become the union
    (old first, order kept) and its importance the higher of the two. A draft without
    importance is scored by :func:`~memory.importance.importance_from_cues`, one without a
    text-search configuration gets its content's language (``memory.language``). Returns one
    :class:`MemoryWrite` per draft, in order. Raises
    :class:`~memory.embedding_dim.EmbeddingDimensionMismatch`, writing nothing, when the
    vectors do not fit the embedding column (``EMBEDDING_DIM`` and the database disagree).
    """
    for size in {len(d.embedding) for d in drafts}:
        embedding_dim_guard(size)
    out: list[MemoryWrite] = []
    with transaction.atomic():
        for user_id in sorted({d.user_id for d in drafts}, key=str):  # fixed order: no deadlock
            memory_lock_user(user_id)
        for draft in drafts:
            sources = list(dict.fromkeys(draft.source_message_ids))
            importance = (
                importance_from_cues(draft.content, draft.category)
                if draft.importance is None
                else clamp_importance(draft.importance)
            )
            ts_config = draft.ts_config or text_search_config(draft.content)
            slot = draft_slot(draft)
            # A loss ("Pickle died") ends the slot holding the name it tells; a stop ("Quit
            # pottery") ends the memories saying the user does the thing (docstring).
            ended = None
            stopped: list[CompanionMemory] = []
            if slot is None:
                ended = memory_loss_slot(
                    user_id=draft.user_id,
                    instance_id=draft.instance_id,
                    content=draft.content,
                    lock=True,
                )
                if ended is not None:
                    slot = (ended[0], normalise_value(draft.content))
                else:
                    stopped = memory_stopped_rows(
                        user_id=draft.user_id,
                        instance_id=draft.instance_id,
                        content=draft.content,
                        lock=True,
                    )
            key = slot[0] if slot else None
            current = _current(draft.user_id, draft.instance_id)
            # Rows this draft replaces: its slot's other values (or, for a loss, the rows
            # holding the lost name), and the one a model named. A row of the same slot and
            # value agrees with it (merged only if a near-twin).
            replaced: list[CompanionMemory] = []
            if ended is not None:
                replaced.extend(ended[1])
            elif key is not None:
                for row in current.filter(slot=key).select_for_update(of=("self",)):
                    if slot_value(key, row.content) != slot[1]:
                        replaced.append(row)
            if draft.supersedes is not None:
                named = current.filter(id=draft.supersedes).select_for_update(of=("self",)).first()
                if named is not None and all(r.id != named.id for r in replaced):
                    replaced.append(named)
            stopped = [r for r in stopped if all(r.id != other.id for other in replaced)]
            twin = None
            if not replaced and not stopped:
                twin = memory_find_twin(
                    user_id=draft.user_id,
                    instance_id=draft.instance_id,
                    category=draft.category,
                    embedding=draft.embedding,
                    lock=True,
                    slot=key,
                )
            if twin is not None:
                twin.content = draft.content
                twin.embedding = list(draft.embedding)
                twin.source_message_ids = list(dict.fromkeys([*twin.source_message_ids, *sources]))
                twin.importance = max(importance, twin.importance or 0.0)
                twin.ts_config = ts_config
                twin.slot = key
                twin.updated_at = timezone.now()
                twin.save(
                    update_fields=[
                        "content",
                        "embedding",
                        "source_message_ids",
                        "importance",
                        "ts_config",
                        "slot",
                        "updated_at",
                    ]
                )
                out.append(MemoryWrite(twin, created=False))
                continue
            memory = CompanionMemory.objects.create(
                session_id=draft.session_id,
                user_id=draft.user_id,
                instance_id=draft.instance_id,
                content=draft.content,
                embedding=list(draft.embedding),
                category=draft.category,
                source_message_ids=sources,
                importance=importance,
                ts_config=ts_config,
                slot=key,
                **({"occurred_at": draft.occurred_at} if draft.occurred_at else {}),
            )
            superseded = _retire_replaced(memory, replaced) + _retire_stopped(memory, stopped)
            out.append(MemoryWrite(memory, created=True, superseded=tuple(superseded)))
    return out


def _retire_replaced(
    memory: CompanionMemory, replaced: list[CompanionMemory]
) -> list[CompanionMemory]:
    """Supersede the rows a new ``memory`` replaces (its slot's other values, the row a model
    named), in event time: when one is newer, the memory was told out of order and is itself
    superseded by the newest, as is every older row. Returns the rows superseded."""
    superseded: list[CompanionMemory] = []
    newest = max(replaced, key=lambda r: r.occurred_at, default=None)
    if newest is not None and newest.occurred_at > memory.occurred_at:
        # Told out of order: what the draft says had already been replaced.
        _supersede(memory, newest)
        superseded.append(memory)
        replaced = [r for r in replaced if r.occurred_at <= memory.occurred_at]
        replaced = [r for r in replaced if r.id != newest.id]
        for row in replaced:
            _supersede(row, newest)
            superseded.append(row)
        return superseded
    for row in replaced:
        _supersede(row, memory)
        superseded.append(row)
    return superseded


def _retire_stopped(memory: CompanionMemory, doing: list[CompanionMemory]) -> list[CompanionMemory]:
    """Supersede the rows saying the user does what a new stop ``memory`` says they gave up
    (oldest first): those told up to the stop's event time end at it; when one is newer (taken
    up again), the stop itself is superseded by the earliest such row, unless it already is.
    Returns the rows superseded, the stop last when it is one of them."""
    superseded: list[CompanionMemory] = []
    later = [r for r in doing if r.occurred_at > memory.occurred_at]
    for row in doing:
        if row.occurred_at <= memory.occurred_at:
            _supersede(row, memory)
            superseded.append(row)
    if later and memory.superseded_by_id is None:
        _supersede(memory, later[0])
        superseded.append(memory)
    return superseded


def memory_supersede_slot(*, memory: CompanionMemory, at: datetime) -> list[CompanionMemory]:
    """Retire the current memories whose value of ``memory``'s slot ``memory`` replaces: the
    same user and layer (and persona instance), the same ``slot``, another value. Each gains
    ``valid_to`` = ``at`` (or its own event time, if later) and ``superseded_by`` = ``memory``.
    Returns the rows retired, oldest first.

    For a memory the user wrote or edited (``memory.services.user_memories``): their word is
    the current value whatever the event times say, and a row holding the same value is kept
    (the user said it again; nothing changed). Nothing happens when ``memory`` has no slot or
    is itself superseded. Joins the caller's transaction, if any, and takes the user's lock.
    """
    if memory.slot is None or memory.valid_to is not None:
        return []
    value = slot_value(memory.slot, memory.content)
    retired: list[CompanionMemory] = []
    with transaction.atomic():
        memory_lock_user(memory.user_id)
        rows = (
            _current(memory.user_id, memory.instance_id)
            .filter(slot=memory.slot)
            .exclude(id=memory.id)
            .defer("embedding")
            .select_for_update(of=("self",))
            .order_by("occurred_at", "id")
        )
        for row in rows:
            if slot_value(memory.slot, row.content) == value:
                continue
            row.valid_to = max(at, row.occurred_at)
            row.superseded_by = memory
            row.updated_at = timezone.now()
            row.save(update_fields=["valid_to", "superseded_by", "updated_at"])
            retired.append(row)
    return retired


def memory_reconcile_slots(
    *, user_id: uuid.UUID, values: dict[str, str], at: datetime
) -> list[CompanionMemory]:
    """Retire current profile memories that contradict the profile: for each ``slot key →
    value`` (``memory.slots.PROFILE_SLOTS``: the profile's city, occupation, name), a current
    memory of that slot holding another value is superseded at ``at`` — by the current memory
    holding the profile's value when there is one. Returns the rows retired.

    This keeps memories and the insight profile agreeing on a current fact when a model's
    decisions and its profile fields disagree. Joins the caller's transaction, if any.
    """
    retired: list[CompanionMemory] = []
    with transaction.atomic():
        memory_lock_user(user_id)
        for key, value in values.items():
            wanted = normalise_value(value)
            rows = list(_current(user_id, None).filter(slot=key).select_for_update(of=("self",)))
            keep = next((r for r in rows if slot_value(key, r.content) == wanted), None)
            for row in rows:
                if row is keep or slot_value(key, row.content) == wanted:
                    continue
                row.valid_to = max(at, row.occurred_at)
                row.superseded_by = keep
                row.updated_at = timezone.now()
                row.save(update_fields=["valid_to", "superseded_by", "updated_at"])
                retired.append(row)
    return retired


def memory_replace_source(*, user_id: uuid.UUID, old: uuid.UUID, new: uuid.UUID) -> int:
    """Make the user's memories that cite message ``old`` cite ``new`` instead (a replaced
    reply); returns how many rows changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE companion_memories"
            " SET source_message_ids = array_replace(source_message_ids, %s, %s)"
            " WHERE user_id = %s AND source_message_ids @> ARRAY[%s]::uuid[]",
            [old, new, user_id, old],
        )
        return cursor.rowcount
