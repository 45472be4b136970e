"""Insight writes: extraction from an exchange and the schema-checked merge.

Extraction is two ``insight_extraction`` calls (reference eros-engine-server.md §6.11): facts
about the user from one exchange (and, eros's addition, a moment worth a callback), then the
structured profile fields those facts support (and, when remembered memories are shown, how
each fact relates to them: add, update, none — the decision Mem0 and Zep ask a model for,
folded into the call that is made anyway). The
result passes :func:`insights.schema.sanitize`, so only schema fields of the right type are
merged (DESIGN §9 item 10).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from eros.llm.base import TASK_INSIGHT, ChatModel, ChatRequest
from eros.llm.base import ChatMessage as LlmMessage
from eros.llm.jsonblock import parse_json_object
from eros.llm.providers import get_chat_model, get_model_config
from eros.signals import normalise_value
from insights.models import CompanionInsights
from insights.schema import ALL_FIELDS, MAX_LIST_ITEMS, sanitize, training_level

logger = logging.getLogger(__name__)


def insight_merge(*, user_id: uuid.UUID, facts: dict[str, Any]) -> CompanionInsights:
    """Shallow-merge sanitized ``facts`` into the user's profile; recompute ``training_level``.

    Under a row lock (concurrent merges do not lose each other's fields). Lists such as
    ``interests`` are unioned case-insensitively, keeping order and at most
    ``MAX_LIST_ITEMS`` (the oldest items give way); other fields are overwritten.
    """
    clean = sanitize(facts)
    with transaction.atomic():
        row, _ = CompanionInsights.objects.select_for_update().get_or_create(user_id=user_id)
        merged = dict(row.insights) if isinstance(row.insights, dict) else {}
        for key, value in clean.items():
            old = merged.get(key)
            if isinstance(value, list) and isinstance(old, list):
                seen = {str(v).casefold() for v in old}
                union = old + [v for v in value if v.casefold() not in seen]
                merged[key] = union[-MAX_LIST_ITEMS:]
            else:
                merged[key] = value
        row.insights = merged
        row.training_level = training_level(merged)
        row.updated_at = timezone.now()
        row.save()
    return row


#: Profile fields that mirror a memory slot (``eros.signals.profile_slot_changed``).
SLOT_FIELDS = {"city": "city", "occupation": "occupation", "name": "preferred_name"}


def insight_follow_slot(
    *, user_id: uuid.UUID, slot: str, value: str | None, replaced: str | None = None
) -> bool:
    """Bring the profile field mirroring memory ``slot`` (:data:`SLOT_FIELDS`) to ``value``.

    ``replaced`` None: the user's own memory says ``value`` (a non-empty string), which the
    field takes. Otherwise the memory that held ``replaced`` is gone, and the field follows
    only if it holds that value (compared as ``eros.signals.normalise_value`` does): it takes
    ``value`` when another current memory holds one, else it is removed. ``training_level`` is
    recomputed. Returns whether the profile changed; an unknown slot changes nothing.
    """
    field = SLOT_FIELDS.get(slot)
    if field is None or (replaced is None and not value):
        return False
    with transaction.atomic():
        row = CompanionInsights.objects.select_for_update().filter(user_id=user_id).first()
        if row is None:
            if value is None or replaced is not None:
                return False
            row = CompanionInsights.objects.create(user_id=user_id, insights={})
        profile = dict(row.insights) if isinstance(row.insights, dict) else {}
        current = profile.get(field)
        if replaced is not None and not (
            isinstance(current, str) and normalise_value(current) == normalise_value(replaced)
        ):
            return False
        if value:
            clean = sanitize({field: value})
            if field not in clean or profile.get(field) == clean[field]:
                return False
            profile[field] = clean[field]
        elif field in profile:
            del profile[field]
        else:
            return False
        row.insights = profile
        row.training_level = training_level(profile)
        row.updated_at = timezone.now()
        row.save()
    return True


def _ask(chat_model: ChatModel, prompt: str) -> dict[str, Any] | None:
    resolved = get_model_config().resolve(TASK_INSIGHT)
    result = chat_model.complete(
        ChatRequest(
            task=TASK_INSIGHT,
            model=resolved.model,
            fallback_model=resolved.fallback_model,
            messages=(LlmMessage("user", prompt),),
            temperature=resolved.temperature,
            max_tokens=resolved.max_tokens,
        )
    )
    return parse_json_object(result.text)


MAX_FACTS = 20
MAX_FACT_CHARS = 300

# How each field kind is described to the model (insights.schema.sanitize enforces it).
_SHAPES = {
    "str": "a short string",
    "list": "an array of short strings",
    "object": (
        'an object {"preferred_gender": string, "age_range": [min, max] whole numbers, '
        '"deal_breakers": array of strings}'
    ),
}


def _facts_of(data: dict[str, Any] | None) -> list[str]:
    """The ``facts`` strings of a facts-step answer: non-blank, short, at most 20, de-duplicated.

    Anything else (no object, ``facts`` not a list, non-string items) gives no facts.
    """
    raw = (data or {}).get("facts")
    if not isinstance(raw, list):
        return []
    facts = [" ".join(f.split()) for f in raw if isinstance(f, str)]
    # A question is never a fact, whatever a model says.
    facts = [f for f in facts if f and len(f) <= MAX_FACT_CHARS and not f.endswith("?")]
    return list(dict.fromkeys(facts))[:MAX_FACTS]


#: What a memory decision may say about a new fact (Mem0's add / update / none).
ACTION_ADD, ACTION_UPDATE, ACTION_NONE = "add", "update", "none"
ACTIONS = (ACTION_ADD, ACTION_UPDATE, ACTION_NONE)


@dataclass(frozen=True)
class ExchangeReading:
    """What one exchange says: ``facts`` about the user (third person, at most 20, no
    questions) and a ``moment`` worth a callback (one short sentence, or ``""``)."""

    facts: tuple[str, ...] = ()
    moment: str = ""


@dataclass(frozen=True)
class MemoryDecision:
    """How a new fact relates to what is remembered: ``action`` in :data:`ACTIONS`, and for
    ``update`` the ``ref`` of the remembered memory it replaces."""

    action: str
    ref: str | None = None


@dataclass(frozen=True)
class ProfileUpdate:
    """The structure step's answer: sanitized profile ``fields`` and, per fact index
    (0-based), the model's :class:`MemoryDecision` (absent: none given)."""

    fields: dict[str, Any]
    decisions: dict[int, MemoryDecision]


def _moment_of(data: dict[str, Any] | None) -> str:
    raw = (data or {}).get("moment")
    if not isinstance(raw, str):
        return ""
    text = " ".join(raw.split())
    return text if len(text) <= MAX_FACT_CHARS and not text.endswith("?") else ""


def insight_read_exchange(
    *, user_message: str, reply: str, chat_model: ChatModel | None = None
) -> ExchangeReading:
    """Facts about the user and a moment worth a callback, from one exchange (one call).

    Raises ``ProviderError`` when the model call fails (the task retries).
    """
    chat_model = chat_model or get_chat_model()
    # The exchange's texts are quoted as JSON strings: each is one line, read back exactly.
    prompt = (
        "Read one exchange between a user and their companion.\n"
        "facts: lasting facts about the USER (not the companion) that are new here, each in "
        'the third person without a subject ("lives in Porto", "has a dog called Rex"). '
        "A question, greeting, thanks, acknowledgement or small talk is never a fact.\n"
        "moment: if the user shared something with the companion worth bringing up later "
        "(a feeling, news, a plan, a promise, a joke between them), one short third-person "
        "sentence about it; otherwise an empty string.\n"
        f"User: {json.dumps(user_message, ensure_ascii=False)}\n"
        f"Companion: {json.dumps(reply, ensure_ascii=False)}\n"
        'Answer with JSON only: {"facts": ["..."], "moment": ""}; an empty list when there '
        "is nothing new."
    )
    data = _ask(chat_model, prompt)
    return ExchangeReading(tuple(_facts_of(data)), _moment_of(data))


def _decisions_of(data: Any, facts: int, refs: set[str]) -> dict[int, MemoryDecision]:
    """Valid decisions of a structure answer: 1-based ``fact`` within range, a known
    ``action``, and for ``update`` a ``ref`` that was shown; anything else is dropped."""
    items = data.get("memories") if isinstance(data, dict) else None
    out: dict[int, MemoryDecision] = {}
    if not isinstance(items, list):
        return out
    for item in items:
        if not isinstance(item, dict):
            continue
        index, action, ref = item.get("fact"), item.get("action"), item.get("id")
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= facts:
            continue
        if action not in ACTIONS:
            continue
        if action == ACTION_UPDATE:
            if not isinstance(ref, str) or ref not in refs:
                continue
            out[index - 1] = MemoryDecision(action, ref)
        else:
            out[index - 1] = MemoryDecision(action)
    return out


def insight_structure(
    *,
    user_id: uuid.UUID,
    facts: Sequence[str],
    remembered: Sequence[tuple[str, str]] = (),
    chat_model: ChatModel | None = None,
) -> ProfileUpdate:
    """Profile fields the ``facts`` support and, given the ``remembered`` memories shown as
    ``(ref, text)``, whether each fact adds, updates one of them, or is nothing new (one call).

    The answer's ``profile`` object is sanitized (:func:`insights.schema.sanitize`); an answer
    that is a flat object of fields (no ``profile`` key) is read as the fields alone. Raises
    ``ProviderError`` when the model call fails.
    """
    chat_model = chat_model or get_chat_model()
    existing_row = CompanionInsights.objects.filter(user_id=user_id).first()
    existing = existing_row.insights if existing_row else {}
    schema = "\n".join(f"- {f.name}: {_SHAPES[f.kind]}" for f in ALL_FIELDS)
    shown = "\n".join(f"{ref}: {' '.join(text.split())}" for ref, text in remembered)
    prompt = (
        "Update a user profile from new facts. Fill only fields you are confident about; "
        "never invent. Write values in the user's own language.\n"
        "Facts:\n" + "\n".join(f"- {f}" for f in facts) + "\n"
        f"Current profile:\n{json.dumps(existing or {}, ensure_ascii=False, indent=2)}\n"
        f"Fields:\n{schema}\n"
        + (
            "Already remembered about the user (id: memory):\n" + shown + "\n"
            "For each fact (numbered from 1 in the order above) say whether it is new "
            '("add"), replaces a remembered memory that is no longer true ("update", with '
            "that memory's id: a move, a new job, a pet renamed, a worry resolved), or is "
            'already remembered ("none").\n'
            if remembered
            else ""
        )
        + 'Answer with one JSON object: {"profile": {only the fields to set}'
        + (
            ', "memories": [{"fact": 1, "action": "add|update|none", "id": "..."}]}'
            if remembered
            else "}"
        )
    )
    data = _ask(chat_model, prompt)
    if isinstance(data, dict) and isinstance(data.get("profile"), dict):
        fields = sanitize(data["profile"])
    else:
        fields = sanitize(data or {})
    decisions = _decisions_of(data, len(facts), {ref for ref, _ in remembered})
    return ProfileUpdate(fields, decisions)


def insight_extract(
    *, user_id: uuid.UUID, user_message: str, reply: str, chat_model: ChatModel | None = None
) -> dict[str, Any]:
    """Facts, then structured fields, from one exchange; returns the sanitized fields (maybe {}).

    Two calls (:func:`insight_read_exchange`, then :func:`insight_structure` when there are
    facts). Raises ``ProviderError`` when a model call fails (the task retries).
    """
    chat_model = chat_model or get_chat_model()
    reading = insight_read_exchange(user_message=user_message, reply=reply, chat_model=chat_model)
    if not reading.facts:
        return {}
    return insight_structure(user_id=user_id, facts=reading.facts, chat_model=chat_model).fields


def insight_erase_user(*, user_id: uuid.UUID) -> int:
    """Delete the user's insight profile; returns how many rows went (0 or 1)."""
    _, per_model = CompanionInsights.objects.filter(user_id=user_id).delete()
    return per_model.get(CompanionInsights._meta.label, 0)
