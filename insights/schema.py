"""The typed insight profile: its fields, their weights and ``training_level``.

Reference eros-engine-server.md §2.5 (weights, "populated", rounding) and §6.11 (fields). eros
adds a boundary: :func:`sanitize` keeps only schema fields of the right type, so nothing a model
invents reaches the stored profile (DESIGN §9 item 10).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # "str" | "list" | "object"
    weight: float
    label: str
    intimate: bool = False  # hidden in the neutral memory scope (reference server §8.2)


#: Schema fields in canonical render order, with their training_level weights (sum 1.0).
FIELDS: tuple[Field, ...] = (
    Field("city", "str", 0.05, "City"),
    Field("occupation", "str", 0.05, "Occupation"),
    Field("mbti_guess", "str", 0.15, "MBTI (guess)"),
    Field("love_values", "str", 0.15, "Love values", intimate=True),
    Field("interests", "list", 0.10, "Interests", intimate=True),
    Field("emotional_needs", "str", 0.15, "Emotional needs", intimate=True),
    Field("life_rhythm", "str", 0.10, "Life rhythm"),
    Field("personality_traits", "list", 0.15, "Personality traits"),
    Field("matching_preferences", "object", 0.10, "Matching preferences"),
)
#: What the user likes to be called (fills a greeting's ``{{user}}``): eros's addition, kept
#: apart from FIELDS because it says who the user is, not how well eros knows them, so it
#: has no weight and ``training_level`` stays the reference's.
NAME_FIELD = Field("preferred_name", "str", 0.0, "Preferred name")
#: Every field the profile may hold, in render order: the name, then FIELDS.
ALL_FIELDS: tuple[Field, ...] = (NAME_FIELD, *FIELDS)
BY_NAME = {f.name: f for f in ALL_FIELDS}

#: Fields never rendered into a prompt (matching-only data).
NEVER_RENDERED = frozenset({"matching_preferences"})


def is_populated(value: Any) -> bool:
    """Reference "populated": null no; string non-empty; array/object non-empty; else yes."""
    if value is None:
        return False
    if isinstance(value, str | list | dict):
        return len(value) > 0
    return True


def training_level(insights: Any) -> float:
    """Weighted completeness of a profile, in [0, 1], rounded to 3 decimals.

    0.0 when ``insights`` is not a dict; unknown keys add nothing. Reference server §2.5.
    """
    if not isinstance(insights, dict):
        return 0.0
    total = 0.0
    for f in FIELDS:
        if is_populated(insights.get(f.name)):
            total += f.weight
    return min(round(total * 1000) / 1000, 1.0)


#: Longest string value (or list item) kept from a model's answer, in characters.
MAX_TEXT_CHARS = 200
#: Most items kept in a list field.
MAX_LIST_ITEMS = 30


def _clean_str(value: Any) -> str | None:
    """A non-blank string with its whitespace collapsed to single spaces, at most 200 chars.

    Collapsing keeps a value on one line, so a stored value cannot add lines to a prompt.
    """
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    return text if text and len(text) <= MAX_TEXT_CHARS else None


def _clean_str_list(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    unique: dict[str, str] = {}
    for item in value:
        text = _clean_str(item)
        if text is not None:
            unique.setdefault(text.casefold(), text)  # the first spelling wins
    return list(unique.values())[:MAX_LIST_ITEMS]


def _clean_matching(value: Any) -> dict | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, Any] = {}
    gender = _clean_str(value.get("preferred_gender"))
    if gender:
        out["preferred_gender"] = gender
    age = value.get("age_range")
    if (
        isinstance(age, list)
        and len(age) == 2
        and all(isinstance(a, int) and not isinstance(a, bool) and 0 <= a <= 150 for a in age)
        and age[0] <= age[1]
    ):
        out["age_range"] = list(age)
    breakers = _clean_str_list(value.get("deal_breakers"))
    if breakers:
        out["deal_breakers"] = breakers
    return out


def sanitize(candidate: Any) -> dict[str, Any]:
    """Keep only schema fields of the right type from a model's output; drop everything else.

    Strings have their whitespace collapsed (blank, or longer than ``MAX_TEXT_CHARS``:
    dropped); lists keep their valid string items, case-insensitively distinct, at most
    ``MAX_LIST_ITEMS``; ``matching_preferences`` keeps ``preferred_gender`` (str),
    ``age_range`` ([min, max] ints within 0..150) and ``deal_breakers`` (list of str).
    Returns ``{}`` for a non-dict input.
    """
    if not isinstance(candidate, dict):
        return {}
    out: dict[str, Any] = {}
    for name, value in candidate.items():
        spec = BY_NAME.get(name)
        if spec is None:
            continue
        if spec.kind == "str":
            text = _clean_str(value)
            if text:
                out[name] = text
        elif spec.kind == "list":
            items = _clean_str_list(value)
            if items:
                out[name] = items
        elif spec.kind == "object":
            cleaned = _clean_matching(value)
            if cleaned:
                out[name] = cleaned
    return out


def render_bullets(insights: Any, *, neutral: bool) -> list[tuple[str, str]]:
    """``(label, value)`` pairs for the prompt, in canonical order.

    ``neutral`` hides the intimate fields (love values, interests, emotional needs); matching
    preferences are never rendered. Lists are joined with ", ".
    """
    if not isinstance(insights, dict):
        return []
    bullets = []
    for f in ALL_FIELDS:
        if f.name in NEVER_RENDERED or (neutral and f.intimate):
            continue
        value = insights.get(f.name)
        if f.kind == "str" and isinstance(value, str) and value.strip():
            bullets.append((f.label, value.strip()))
        elif f.kind == "list":
            items = _clean_str_list(value)
            if items:
                bullets.append((f.label, ", ".join(items)))
    return bullets
