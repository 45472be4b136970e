"""The ``offline`` chat model: heuristics in place of a language model, same protocol."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from eros.llm.base import (
    TASK_AFFINITY,
    TASK_CHAT,
    TASK_INSIGHT,
    TASK_MEMORY,
    ChatRequest,
    ChatResult,
    ProviderError,
)
from eros.llm.offline.composer import compose_reply
from eros.llm.offline.evaluation import evaluate
from eros.llm.offline.extraction import insight_facts, memories, moment, profile_fields
from eros.llm.offline.inputs import (
    profile_update_of,
    remembered_of,
    transcript_of,
    turn_of,
    user_message_of,
)

MODEL_NAME = "offline"


class OfflineChatModel:
    """A :class:`~eros.llm.base.ChatModel` that answers from heuristics, with no network.

    Dispatches on ``request.task``; reads the inputs described in
    :mod:`eros.llm.offline.inputs` and answers in the shapes listed in :mod:`eros.llm.offline`.
    Deterministic: the same request always gives the same text. Raises
    ``ProviderError(retryable=False)`` for a task it has no answer for, or a prompt that
    holds none of the inputs the task needs.
    """

    name = MODEL_NAME
    #: Answers in-process in microseconds: the turn keeps its database connection meanwhile.
    in_process = True

    def complete(self, request: ChatRequest) -> ChatResult:
        """Answer with ``ChatResult(text=<reply or JSON>, model="offline", offline=True)``."""
        if request.task == TASK_CHAT:
            text = compose_reply(turn_of(request))
        elif request.task == TASK_INSIGHT:
            text = _json(_insight(request))
        elif request.task == TASK_MEMORY:
            said = [(m.id, m.content) for m in transcript_of(request) if m.role == "user"]
            text = _json({"memories": memories(said, remembered=remembered_of(request))})
        elif request.task == TASK_AFFINITY:
            user_message = user_message_of(request)
            if user_message is None:
                raise _unanswerable(request, "no exchange in the prompt")
            text = _json(evaluate(user_message))
        else:
            raise _unanswerable(request)
        return ChatResult(text=text, model=MODEL_NAME, offline=True)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """The text of :meth:`complete` in pieces; raises like :meth:`complete`.

        ``chat_companion`` replies come word by word, each word with the whitespace after it,
        so the pieces join to the exact reply; the JSON tasks come as one piece.
        """
        text = self.complete(request).text
        if request.task != TASK_CHAT:
            yield text
            return
        yield from re.findall(r"\S+\s*", text)


def _insight(request: ChatRequest) -> dict[str, Any]:
    """Profile fields when the prompt lists facts, else the facts of the exchange it quotes."""
    update = profile_update_of(request)
    if update is not None:
        return profile_fields(update.facts, update.profile)
    user_message = user_message_of(request)
    if user_message is not None:
        # Only the user's words are mined: the facts are about the user, not the companion.
        return {"facts": insight_facts(user_message), "moment": moment(user_message)}
    raise _unanswerable(request, "neither an exchange nor facts in the prompt")


def _unanswerable(request: ChatRequest, why: str = "") -> ProviderError:
    message = f"offline provider has no answer for task {request.task}"
    return ProviderError(f"{message}: {why}" if why else message, retryable=False)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
