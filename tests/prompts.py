"""Telling the engine's model requests apart in scripted fakes, as a model reads them."""

from __future__ import annotations

from eros.llm.base import ChatRequest


def insight_step(request: ChatRequest) -> str:
    """``facts`` for the insight request that mines an exchange, else ``structure``.

    Insight extraction asks twice (insights.services): first for facts about the user (and a
    moment) from the quoted exchange, then for the profile fields those facts fill, with a
    prompt that lists them under a ``Facts:`` line.
    """
    return "structure" if "\nFacts:\n" in request.messages[0].content else "facts"
