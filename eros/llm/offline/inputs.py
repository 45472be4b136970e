"""Reading a request's task inputs, from what a real model gets too.

``chat_companion``
    :attr:`~eros.llm.base.ChatRequest.context`, the turn as typed data
    (:class:`~eros.llm.base.TurnContext`); without one, a bare turn made of the last ``user``
    message of ``messages``. The system prompt's prose is never parsed back.

The other tasks carry every input in the prompt text (all messages, joined by newlines),
and the callers quote free text as JSON strings so it reads back exactly, whatever it
contains: a JSON string holds no raw newline, so one value is always one line.

``affinity_evaluation`` and ``insight_extraction`` (facts about the user)
    The exchange, as two lines anywhere in the prompt::

        User: "<the user's message>"
        Companion: "<the reply>"

``insight_extraction`` (profile fields from facts)
    A list of facts, one line each (callers collapse whitespace inside a fact), then the
    stored profile as a JSON object::

        Facts:
        - lives in Porto
        - likes surfing
        Current profile:
        {"city": "Lisboa"}

``memory_extraction``
    The transcript, one message a line, with its id::

        [<message id>] User: "<text>"
        [<message id>] Companion: "<text>"

    and, before it, what is already remembered about the user, one memory a line::

        Remembered (…):
        - m1: "<memory>"
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from eros.llm.base import ChatRequest, TurnContext

_USER_LINE = re.compile(r'^User: (?P<text>".*")$', re.MULTILINE)
_FACTS_BLOCK = re.compile(r"^Facts:\n(?P<facts>(?:- .*\n)*)Current profile:\n", re.MULTILINE)
_TRANSCRIPT_LINE = re.compile(
    r'^\[(?P<id>[^\]\n]*)\] (?P<who>User|Companion): (?P<text>".*")$', re.MULTILINE
)


@dataclass(frozen=True)
class ProfileUpdate:
    """New facts about the user and the profile they would update (``{}`` when unreadable)."""

    facts: tuple[str, ...]
    profile: dict[str, Any]


@dataclass(frozen=True)
class TranscriptMessage:
    """One transcript line: the message ``id``, ``role`` (``user`` or ``assistant``), text."""

    id: str
    role: str
    content: str


def prompt_text(request: ChatRequest) -> str:
    """Every message's content, in order, joined by newlines."""
    return "\n".join(message.content for message in request.messages)


def turn_of(request: ChatRequest) -> TurnContext:
    """The chat turn: ``request.context``, else a bare turn of the last ``user`` message."""
    if request.context is not None:
        return request.context
    last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    return TurnContext(user_message=last)


def user_message_of(request: ChatRequest) -> str | None:
    """The user's message of the exchange the prompt quotes (its first ``User:`` line).

    None when the prompt quotes no exchange. The ``Companion:`` line is not read: the
    offline answers are about the user's words only.
    """
    for line in _USER_LINE.finditer(prompt_text(request)):
        text = _json_string(line.group("text"))
        if text is not None:
            return text
    return None


def profile_update_of(request: ChatRequest) -> ProfileUpdate | None:
    """The ``Facts:`` list and the ``Current profile:`` object; None without a facts list."""
    text = prompt_text(request)
    block = _FACTS_BLOCK.search(text)
    if block is None:
        return None
    facts = tuple(line[2:] for line in block.group("facts").splitlines())
    try:
        profile, _ = json.JSONDecoder().raw_decode(text, block.end())
    except json.JSONDecodeError:
        profile = {}
    return ProfileUpdate(facts=facts, profile=profile if isinstance(profile, dict) else {})


_REMEMBERED_LINE = re.compile(r'^- m\d+: (?P<text>".*")$', re.MULTILINE)


def remembered_of(request: ChatRequest) -> list[str]:
    """The ``- m<i>: "<memory>"`` lines of the prompt, in order (``[]`` without any)."""
    found = (_json_string(m.group("text")) for m in _REMEMBERED_LINE.finditer(prompt_text(request)))
    return [text for text in found if text is not None]


def transcript_of(request: ChatRequest) -> list[TranscriptMessage]:
    """The ``[id] User:`` / ``[id] Companion:`` lines of the prompt, in order."""
    messages = []
    for line in _TRANSCRIPT_LINE.finditer(prompt_text(request)):
        text = _json_string(line.group("text"))
        if text is not None:
            role = "user" if line.group("who") == "User" else "assistant"
            messages.append(TranscriptMessage(id=line.group("id"), role=role, content=text))
    return messages


def _json_string(token: str) -> str | None:
    try:
        value = json.loads(token)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None
