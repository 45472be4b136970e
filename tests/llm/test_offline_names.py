"""The offline extractor reads the name a user goes by, and nothing that only looks like one."""

from __future__ import annotations

import pytest

from eros.llm.offline.extraction import insight_facts, memories, profile_fields


@pytest.mark.parametrize(
    ("message", "name"),
    [
        ("Hi, I'm Sam.", "Sam"),
        ("hey im Alex", "Alex"),
        ("I'm Sam and I live in Lisbon", "Sam"),
        ("my name is maya", "Maya"),
        ("My name's Jo-Anne, by the way", "Jo-Anne"),
        ("Call me Jo!", "Jo"),
        ("Everyone calls me Beto.", "Beto"),
    ],
)
def test_a_stated_name_becomes_the_preferred_name(message, name):
    facts = insight_facts(message)
    assert f"goes by {name}" in facts
    assert profile_fields(facts, {})["preferred_name"] == name


@pytest.mark.parametrize(
    "message",
    ["I'm fine", "I'm Fine.", "I'm English", "I'm tired", "I'm a nurse", "Honestly I'm Happy"],
)
def test_a_state_a_nationality_or_a_job_is_not_a_name(message):
    assert not any(f.startswith("goes by") for f in insight_facts(message))


def test_dreaming_keeps_the_name_as_a_profile_fact():
    assert memories([("m1", "Hi, I'm Sam.")]) == [
        {"content": "Their name is Sam", "category": "fact", "source_message_ids": ["m1"]}
    ]
