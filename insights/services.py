"""Insight writes: extraction from an exchange and the schema-checked merge.

Extraction is two ``insight_extraction`` calls (reference eros-engine-server.md §6.11): facts
about the user from one exchange, then the structured profile fields those facts support. The
result passes :func:`insights.schema.sanitize`, so only schema fields of the right type are
merged (DESIGN §9 item 10).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from django.db import transaction
from django.utils import timezone

from eros.llm.base import TASK_INSIGHT, ChatModel, ChatRequest
from eros.llm.base import ChatMessage as LlmMessage
from eros.llm.jsonblock import parse_json_object
from eros.llm.providers import get_chat_model, get_model_config
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
    facts = [f for f in facts if f and len(f) <= MAX_FACT_CHARS]
    return list(dict.fromkeys(facts))[:MAX_FACTS]


def insight_extract(
    *, user_id: uuid.UUID, user_message: str, reply: str, chat_model: ChatModel | None = None
) -> dict[str, Any]:
    """Facts, then structured fields, from one exchange; returns the sanitized fields (maybe {}).

    Raises ``ProviderError`` when the model call fails (the task retries).
    """
    chat_model = chat_model or get_chat_model()
    # The exchange's texts are quoted as JSON strings: each is one line, read back exactly.
    facts_prompt = (
        "List new facts about the USER (not the companion) from this exchange.\n"
        f"User: {json.dumps(user_message, ensure_ascii=False)}\n"
        f"Companion: {json.dumps(reply, ensure_ascii=False)}\n"
        'Answer with JSON only: {"facts": ["..."]}; an empty list when there is nothing new.'
    )
    data = _ask(chat_model, facts_prompt)
    facts = _facts_of(data)
    if not facts:
        return {}
    existing_row = CompanionInsights.objects.filter(user_id=user_id).first()
    existing = existing_row.insights if existing_row else {}
    schema = "\n".join(f"- {f.name}: {_SHAPES[f.kind]}" for f in ALL_FIELDS)
    structure_prompt = (
        "Update a user profile from new facts. Fill only fields you are confident about; "
        "never invent. Write values in the user's own language.\n"
        "Facts:\n" + "\n".join(f"- {f}" for f in facts) + "\n"
        f"Current profile:\n{json.dumps(existing or {}, ensure_ascii=False, indent=2)}\n"
        f"Fields:\n{schema}\n"
        "Answer with one JSON object holding only the fields to set."
    )
    structured = _ask(chat_model, structure_prompt)
    return sanitize(structured or {})


def insight_erase_user(*, user_id: uuid.UUID) -> int:
    """Delete the user's insight profile; returns how many rows went (0 or 1)."""
    _, per_model = CompanionInsights.objects.filter(user_id=user_id).delete()
    return per_model.get(CompanionInsights._meta.label, 0)
