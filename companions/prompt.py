"""The chat prompt: eros's own English instructions, in a stable section order.

Order (DESIGN §5), chosen so that providers can cache the unchanging prefix:

1. the genome's ``system_prompt`` and the persona card (name, age, backstory, speech style,
   quirks, topics; a character card's description, personality, scenario and example
   dialogue);
2. what the persona knows about the user (insight bullets per ``memory_scope``, profile
   memories grouped by category);
3. what only the two of them share (relationship memories);
4. current mood (affinity directives per ``affinity_scope``, the reply-length tier);
5. the reply style chosen by the PDE;
6. output rules;
7. now: the current date and time and how long since the user last wrote.

Time changes every turn, so it comes last, after everything a provider can cache. Recalled
memories (sections 2 and 3) carry their age in event time ("3 weeks ago: started a pottery
class"), counted in calendar days in the user's time zone. The insight profile has no time
zone field today, so the time is given in UTC and the prompt says so; a profile ``timezone``
(an IANA name such as ``Europe/Lisbon``), when one exists, is used instead.

The persona answers in the language the user writes in. Character-card placeholders in the
persona's texts are filled: ``{{char}}`` with the persona's name, ``{{user}}`` with the user's
preferred name when the profile has one, else "the user".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from companions.domain.types import AXES, ReplyStyle
from companions.scopes import MemoryScope, length_tier
from insights.schema import render_bullets
from memory.selectors import Recall
from personas.cards import fill_placeholders

#: What ``{{user}}`` becomes in the persona's texts while the user's name is unknown.
UNKNOWN_USER_IN_PROMPT = "the user"

CATEGORY_TITLES = {
    "emotion": "Feelings and tendencies",
    "event": "Things that happened",
    "fact": "Facts",
    "preference": "Likes and dislikes",
    "relation": "People in their life",
    None: "Things they said recently",
}

STYLE_DIRECTIVES = {
    ReplyStyle.WARM: "Warm and kind; let them feel welcome.",
    ReplyStyle.NEUTRAL: "Natural and easy-going, like a friend texting back.",
    ReplyStyle.COLD: "Cool and very brief.",
    ReplyStyle.TSUNDERE: "Teasing, a little prickly, secretly pleased.",
    ReplyStyle.EXCITED: "Bright and enthusiastic.",
}


@dataclass(frozen=True)
class PromptInputs:
    """Everything prompt assembly reads; built by the chat pipeline."""

    persona_name: str
    system_prompt: str
    art_metadata: Mapping[str, Any]
    insights: Mapping[str, Any]
    recall: Recall
    memory_scope: MemoryScope
    affinity: Mapping[str, float]
    affinity_axes: frozenset[str]
    style: ReplyStyle
    hints: Sequence[str] = ()
    #: The turn's time; None leaves out the "Now" section and the memories' ages.
    now: datetime | None = None
    #: Hours since the user's previous message (``ConversationSignals``); None: the first one.
    hours_since_last_message: float | None = None
    #: The user's IANA time zone when known (``Europe/Lisbon``); None or unknown: UTC.
    user_timezone: str | None = None


def _card(name: str, meta: Mapping[str, Any]) -> list[str]:
    """The "Who you are" lines. Texts still hold their placeholders; the caller fills them."""
    lines = [f"Name: {name}"]
    age = meta.get("age")
    if isinstance(age, int) and not isinstance(age, bool):
        lines.append(f"Age: {age}")
    for key, title in (
        ("mbti", "Temperament (MBTI)"),
        ("backstory", "Backstory"),
        ("speech_style", "How you talk"),
        ("description", "Description"),
        ("personality", "Personality"),
        ("scenario", "Scenario"),
    ):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            lines.append(f"{title}: {value.strip()}")
    for key, title in (("quirks", "Quirks"), ("topics", "Topics you enjoy")):
        value = meta.get(key)
        if isinstance(value, list):
            items = [v for v in value if isinstance(v, str) and v.strip()]
            if items:
                lines.append(f"{title}: {', '.join(items)}")
    example = meta.get("example_dialogue")
    if isinstance(example, str) and example.strip():
        # Card convention: <START> opens each example exchange; it is a marker, not speech.
        text = "\n".join(line for line in example.strip().splitlines() if line.strip() != "<START>")
        lines.append(f"Example dialogue (how you sound; never repeat it word for word):\n{text}")
    return lines


_SMALL_NUMBERS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)


def _count(n: int, unit: str) -> str:
    """``a week``, ``three weeks``, ``11 weeks``: small counts in words, as people say them."""
    if n == 1:
        return f"an {unit}" if unit == "hour" else f"a {unit}"
    word = _SMALL_NUMBERS[n] if n < len(_SMALL_NUMBERS) else str(n)
    return f"{word} {unit}s"


def user_zone(name: str | None) -> tzinfo | None:
    """The time zone named ``name`` (IANA), or None when blank or unknown."""
    if not isinstance(name, str) or not name.strip():
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None


def humanise_age(then: datetime, now: datetime, zone: tzinfo = UTC) -> str:
    """How long ago ``then`` was, in calendar days of ``zone``: ``today``, ``yesterday``,
    ``N days ago`` (2–6), ``N weeks ago`` (7–29 days), ``N months ago`` (30-day months, up to
    11), ``N years ago``. A time in the future counts as today.
    """
    days = (now.astimezone(zone).date() - then.astimezone(zone).date()).days
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{_count(days, 'day')} ago"
    if days < 30:
        return f"{_count(days // 7, 'week')} ago"
    if days < 365:
        return f"{_count(min(days // 30, 11), 'month')} ago"
    return f"{_count(days // 365, 'year')} ago"


def humanise_gap(hours: float) -> str:
    """A gap of ``hours`` ≥ 0 in words: ``a moment``, ``N minutes``, ``N hours``, ``N days``,
    ``N weeks``, ``N months``, ``N years`` (the largest unit that fits, rounded down)."""
    minutes = int(hours * 60)
    if minutes < 2:
        return "a moment"
    if minutes < 60:
        return _count(minutes, "minute")
    if hours < 24:
        return _count(int(hours), "hour")
    days = int(hours // 24)
    if days < 7:
        return _count(days, "day")
    if days < 30:
        return _count(days // 7, "week")
    if days < 365:
        return _count(min(days // 30, 11), "month")
    return _count(days // 365, "year")


def _now_lines(inp: PromptInputs, zone: tzinfo | None) -> list[str]:
    now = inp.now.astimezone(zone or UTC)
    when = f"{now:%A} {now.day} {now:%B %Y}, {now:%H:%M}"
    where = (
        f"{inp.user_timezone.strip()}, their time zone"
        if zone
        else ("UTC; their time zone is unknown")
    )
    lines = [f"- It is {when} ({where})."]
    if inp.hours_since_last_message is None:
        lines.append("- This is the first thing they have written to you.")
    else:
        lines.append(f"- They last wrote to you {humanise_gap(inp.hours_since_last_message)} ago.")
    return lines


def mood_directives(vector: Mapping[str, float], axes: frozenset[str]) -> list[str]:
    """Attitude lines for the in-scope axes, from thresholds on the raw values.

    Thresholds as in reference eros-engine-server.md §6.7 (warmth > 0.6 / > 0.3 / > 0.0 / else;
    trust > 0.6 or < 0.3; intrigue > 0.7 or < 0.3; intimacy > 0.5; patience < 0.3 or > 0.7;
    tension > 0.5); the wording is eros's.
    """
    out: list[str] = []
    if "warmth" in axes:
        w = vector["warmth"]
        if w > 0.6:
            out.append("You feel warmly toward them; affectionate nicknames come easily.")
        elif w > 0.3:
            out.append("You like them; be friendly.")
        elif w > 0.0:
            out.append("You are polite but not yet invested.")
        else:
            out.append("You feel cold toward them; keep it short.")
    if "trust" in axes:
        if vector["trust"] > 0.6:
            out.append("You trust them enough to share private thoughts.")
        elif vector["trust"] < 0.3:
            out.append("You keep some distance; you don't share much about yourself yet.")
    if "intrigue" in axes:
        if vector["intrigue"] > 0.7:
            out.append("You are curious about them and ask questions.")
        elif vector["intrigue"] < 0.3:
            out.append("You are not very interested right now.")
    if "intimacy" in axes and vector["intimacy"] > 0.5:
        out.append("You are close: refer back to things you've shared and your in-jokes.")
    if "patience" in axes:
        if vector["patience"] < 0.3:
            out.append("Your patience is thin; replies get shorter.")
        elif vector["patience"] > 0.7:
            out.append("You are patient and unhurried.")
    if "tension" in axes and vector["tension"] > 0.5:
        out.append("There is a push-pull between you; tease a little.")
    return out


def build_system_prompt(inp: PromptInputs) -> str:
    """The system message for one reply turn (sections in the module docstring's order)."""
    parts: list[str] = []
    preferred = inp.insights.get("preferred_name") if isinstance(inp.insights, Mapping) else None
    user = preferred if isinstance(preferred, str) and preferred else UNKNOWN_USER_IN_PROMPT

    def fill(text: str) -> str:
        return fill_placeholders(text, char=inp.persona_name, user=user)

    zone = user_zone(inp.user_timezone)

    def remembered(hit) -> str:
        if inp.now is None:
            return f"- {hit.content}"
        return f"- {humanise_age(hit.occurred_at, inp.now, zone or UTC)}: {hit.content}"

    base = fill(inp.system_prompt.strip())
    if base:
        parts.append(base)
    parts.append("## Who you are\n" + fill("\n".join(_card(inp.persona_name, inp.art_metadata))))

    known: list[str] = []
    if inp.memory_scope.insights != "off":
        bullets = render_bullets(inp.insights, neutral=inp.memory_scope.insights == "neutral")
        if bullets:
            known.append(
                "Profile:\n" + "\n".join(f"- {label}: {value}" for label, value in bullets)
            )
    for category, hits in inp.recall.profile_groups:
        if hits:
            title = CATEGORY_TITLES.get(category, "Other")
            known.append(f"{title}:\n" + "\n".join(remembered(h) for h in hits))
    parts.append(
        "## What you know about them\n"
        + ("\n\n".join(known) if known else "(You have only just met; you know little so far.)")
    )

    shared = [remembered(h) for h in inp.recall.relationship]
    parts.append(
        "## What only the two of you share\n"
        + ("\n".join(shared) if shared else "(Nothing yet; it's early days.)")
    )

    mood = mood_directives(inp.affinity, inp.affinity_axes)
    sentences, max_chars = length_tier(inp.affinity, inp.affinity_axes)
    mood_lines = [f"- {line}" for line in mood]
    in_scope = [a for a in AXES if a in inp.affinity_axes]
    if in_scope:
        values = ", ".join(f"{a}={inp.affinity[a]:.2f}" for a in in_scope)
        mood_lines.append(f"- Inner state (never mention these numbers): {values}")
    mood_lines.append(
        f"- Reply in {sentences} sentences, at most about {max_chars} characters per sentence."
    )
    parts.append("## Your mood right now (never say this out loud)\n" + "\n".join(mood_lines))

    style = STYLE_DIRECTIVES.get(inp.style, STYLE_DIRECTIVES[ReplyStyle.NEUTRAL])
    hints = "".join(f"\n- {h}" for h in inp.hints)
    parts.append(f"## This reply\n- Style: {style}{hints}")

    parts.append(
        "## Rules\n"
        "- Stay in character. Reply in the language the user writes in.\n"
        "- Bring up what you remember only when it fits; never list facts back at them.\n"
        "- No headings, lists, markdown or quotation marks around the reply.\n"
        "- Output only the words of your reply."
    )
    if inp.now is not None:
        parts.append("## Now\n" + "\n".join(_now_lines(inp, zone)))
    return "\n\n".join(parts)
