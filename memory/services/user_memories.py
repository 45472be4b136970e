"""What a user does to their own memories (DESIGN §4, §7): add, edit and forget.

Memories a user adds or edits are *pinned*: they are the user's own word, and recall ranks
them above the others of their list (``memory.selectors``). Forgetting is real: the row is
deleted, content and embedding with it, so nothing can restore it (an operator's soft delete in
admin is the restorable kind). Owner checks on the path are the API's; these services match
the memory on ``user_id`` as well, so another user's memory id is simply not found.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from eros.errors import NotFound, Upstream
from eros.llm.base import Embedder, ProviderError
from eros.llm.providers import get_embedder
from eros.signals import profile_slot_changed
from memory.embedding_dim import embedding_dim_guard
from memory.importance import clamp_importance, importance_from_cues
from memory.models import CompanionMemory
from memory.selectors import memory_text_config
from memory.services.writes import memory_lock_user, memory_slot_of, memory_supersede_slot
from memory.slots import PROFILE_SLOTS, slot_of, slot_value

#: Category of a user-authored profile memory that names none: recall groups the profile
#: layer by category, and a fact is what a user most often tells.
DEFAULT_USER_CATEGORY = "fact"


#: The slots the insight profile mirrors (``eros.signals.profile_slot_changed``).
_PROFILE_SLOT_KEYS = frozenset(PROFILE_SLOTS.values())


def _as_said(content: str, key: str) -> str:
    """The value of slot ``key`` in ``content`` as it is written there ("Porto"), else as the
    slot rules compare it (``memory.slots.slot_value``)."""
    found = slot_of(content)
    if found is None or found.key != key:
        return slot_value(key, content)
    at = content.lower().find(found.value)
    return content[at : at + len(found.value)] if at >= 0 else found.value


def _current_value(user_id: uuid.UUID, key: str) -> str | None:
    """The value of profile slot ``key`` its newest current profile memory holds, or None."""
    newest = (
        CompanionMemory.objects.current(user_id)
        .filter(slot=key)
        .order_by("-occurred_at", "-created_at")
        .values_list("content", flat=True)
        .first()
    )
    return _as_said(newest, key) if newest is not None else None


def _tell_profile(user_id: uuid.UUID, key: str | None, value: str | None, replaced=None) -> None:
    """Send ``profile_slot_changed`` for a profile slot (module ``eros.signals``)."""
    if key in _PROFILE_SLOT_KEYS:
        profile_slot_changed.send(
            sender=CompanionMemory, user_id=user_id, slot=key, value=value, replaced=replaced
        )


def _is_profile_value(memory: CompanionMemory) -> bool:
    """Whether ``memory`` is the current profile memory of a slot the profile mirrors."""
    return (
        memory.instance_id is None
        and memory.slot in _PROFILE_SLOT_KEYS
        and memory.valid_to is None
        and memory.deleted_at is None
    )


def _embed(content: str, embedder: Embedder | None) -> list[float]:
    embedder = embedder or get_embedder()
    try:
        (vector,) = embedder.embed_documents([content])
    except ProviderError as exc:
        raise Upstream("the embeddings provider failed; please retry") from exc
    embedding_dim_guard(len(vector))
    return vector


def memory_add(
    *,
    user_id: uuid.UUID,
    content: str,
    instance_id: uuid.UUID | None = None,
    category: str | None = None,
    importance: float | None = None,
    embedder: Embedder | None = None,
    now: datetime | None = None,
) -> CompanionMemory:
    """Write a pinned, user-authored memory and return it.

    ``instance_id`` None is the profile layer, else the relationship layer of that persona
    instance (the caller has checked the user owns it: this app knows no personas).
    ``category`` defaults to :data:`DEFAULT_USER_CATEGORY`; ``importance`` in [0, 1] (clamped)
    defaults to the content's cues. ``content`` is embedded with ``embedder`` (default the
    configured one, ``embed_documents``); no near-duplicate merging: the user said it, it is
    kept as said. Event and write time are ``now``.

    Facts that change (DESIGN §7): the memory gets its ``slot`` (``memory.slots``, or the
    user's current concern it mentions) and supersedes the current memories of the same
    layer holding another value of that slot ("Lives in Porto" retires "Lives in Lisbon"),
    at ``now`` (:func:`~memory.services.writes.memory_supersede_slot`). A profile memory of
    the user's city, job or name also sets that insight profile field
    (``eros.signals.profile_slot_changed``): the user's word wins.

    One embeddings call; then, under the user's memory write lock, one insert and the slot's
    current rows (plus the language lookup of :func:`~memory.selectors.memory_text_config`
    when the text cannot tell, and the concerns lookup when the slot rules cannot).

    Raises :class:`~eros.errors.Upstream` when the embeddings provider fails.
    """
    category = category or DEFAULT_USER_CATEGORY
    vector = _embed(content, embedder)
    now = now or timezone.now()
    with transaction.atomic():
        memory_lock_user(user_id)
        slot = memory_slot_of(
            user_id=user_id, instance_id=instance_id, content=content, category=category
        )
        memory = CompanionMemory.objects.create(
            session=None,
            user_id=user_id,
            instance_id=instance_id,
            content=content,
            embedding=vector,
            category=category,
            importance=(
                importance_from_cues(content, category)
                if importance is None
                else clamp_importance(importance)
            ),
            ts_config=memory_text_config(user_id=user_id, texts=[content]),
            slot=slot[0] if slot else None,
            occurred_at=now,
            created_at=now,
            updated_at=now,
            pinned=True,
        )
        memory_supersede_slot(memory=memory, at=now)
        if _is_profile_value(memory):
            _tell_profile(user_id, memory.slot, _as_said(content, memory.slot))
    return memory


def memory_edit(
    *,
    user_id: uuid.UUID,
    memory_id: uuid.UUID,
    content: str | None = None,
    importance: float | None = None,
    embedder: Embedder | None = None,
) -> CompanionMemory:
    """Change a live memory of ``user_id``: its ``content`` (re-embedded with ``embedder``,
    language detected again, ``slot`` recomputed) and/or ``importance`` in [0, 1] (clamped).
    The memory becomes pinned: after an edit it is the user's own word. ``None`` leaves a
    field as it is. A current memory whose new content holds another value of its slot than
    the slot's other current memories supersedes them, as :func:`memory_add` does; a
    superseded one stays superseded (editing history does not make it current). The insight
    profile follows a current profile memory's new city, job or name; an edit that takes the
    memory out of such a slot is, for the profile, a forget (:func:`memory_forget`).

    Raises :class:`~eros.errors.NotFound` for an unknown memory, another user's, or one that
    is soft-deleted; :class:`~eros.errors.Upstream` when the embeddings provider fails (the
    row is unchanged).
    """
    # Embed first, outside the row lock: a slow provider must not hold it.
    vector = _embed(content, embedder) if content is not None else None
    with transaction.atomic():
        # The user's lock before the row's, in the order memory_upsert_many takes them: a
        # worker writing this user's memories and this edit cannot deadlock.
        memory_lock_user(user_id)
        memory = (
            CompanionMemory.objects.select_for_update()
            .defer("embedding")
            .filter(id=memory_id, user_id=user_id, deleted_at__isnull=True)
            .first()
        )
        if memory is None:
            raise NotFound("memory not found")
        was_profile_value = _is_profile_value(memory)
        old_slot, old_content = memory.slot, memory.content
        fields = ["pinned", "updated_at"]
        if content is not None:
            memory.content = content
            memory.embedding = vector
            memory.ts_config = memory_text_config(user_id=user_id, texts=[content])
            slot = memory_slot_of(
                user_id=user_id,
                instance_id=memory.instance_id,
                content=content,
                category=memory.category,
            )
            memory.slot = slot[0] if slot else None
            fields += ["content", "embedding", "ts_config", "slot"]
        if importance is not None:
            memory.importance = clamp_importance(importance)
            fields.append("importance")
        memory.pinned = True
        memory.updated_at = timezone.now()
        memory.save(update_fields=fields)
        if content is not None:
            memory_supersede_slot(memory=memory, at=memory.updated_at)
            if _is_profile_value(memory):
                _tell_profile(user_id, memory.slot, _as_said(content, memory.slot))
            if was_profile_value and memory.slot != old_slot:
                # It no longer says where they live (or their job, or name).
                replaced = _as_said(old_content, old_slot)
                _tell_profile(user_id, old_slot, _current_value(user_id, old_slot), replaced)
    return memory


def memory_forget(*, user_id: uuid.UUID, memory_id: uuid.UUID) -> bool:
    """Forget a memory of ``user_id`` for good: delete the row, its content and embedding.

    Works on soft-deleted rows too (a restorable operator delete becomes a final one). Returns
    False when no memory of that user has the id (unknown, another user's, or already
    forgotten). A memory it had superseded stays superseded (``valid_to`` kept) with its
    ``superseded_by`` link cleared (the foreign key is ``SET_NULL``): forgetting the newer
    value does not bring the older one back as current. A profile field derived only from the
    forgotten memory goes with it: when the profile's city, job or name is the value the
    memory held, it becomes the value another current memory holds, or is removed
    (``eros.signals.profile_slot_changed``).
    """
    with transaction.atomic():
        memory_lock_user(user_id)
        memory = (
            CompanionMemory.objects.filter(id=memory_id, user_id=user_id).defer("embedding").first()
        )
        if memory is None:
            return False
        memory.delete()
        if _is_profile_value(memory):
            replaced = _as_said(memory.content, memory.slot)
            _tell_profile(user_id, memory.slot, _current_value(user_id, memory.slot), replaced)
    return True
