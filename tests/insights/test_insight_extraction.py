"""Insight extraction: facts, then schema fields; garbage from the model never reaches the
stored profile (DESIGN §9 item 10; reference eros-engine-server.md §6.11)."""

from __future__ import annotations

import json

import pytest

from eros.llm.base import TASK_INSIGHT, ChatRequest
from eros.llm.fakes import FakeChatModel
from eros.llm.offline.inputs import ProfileUpdate, profile_update_of
from insights.models import CompanionInsights
from insights.schema import MAX_LIST_ITEMS, sanitize, training_level
from insights.services import insight_extract, insight_merge
from tests.prompts import insight_step


def model(facts: str, structure: str = "{}") -> FakeChatModel:
    def answer(request: ChatRequest) -> str:
        assert request.task == TASK_INSIGHT
        return facts if insight_step(request) == "facts" else structure

    return FakeChatModel(answer)


def extract(alice, chat_model) -> dict:
    return insight_extract(
        user_id=alice,
        user_message="I moved to Porto and surf now",
        reply="Nice!",
        chat_model=chat_model,
    )


FACTS = json.dumps({"facts": ["lives in Porto", "likes surfing"]})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "facts",
    [
        "no json at all",
        "[]",
        '{"facts": "lives in Porto"}',
        '{"facts": [1, null, {"a": 1}, ["x"], "   "]}',
        '{"facts": []}',
        '{"fact": ["lives in Porto"]}',
        json.dumps({"facts": ["x" * 301]}),
    ],
    ids=["prose", "array", "string", "non-strings", "empty", "wrong-key", "too-long"],
)
def test_garbage_facts_stop_extraction_before_the_structure_step(alice, facts):
    chat_model = model(facts, structure='{"city": "Porto"}')
    assert extract(alice, chat_model) == {}
    assert chat_model.calls == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "structure",
    [
        "Sorry, I cannot help with that.",
        "[1, 2, 3]",
        json.dumps(
            {
                "city": 42,
                "occupation": "   ",
                "interests": "surfing",
                "mbti_guess": ["INTJ"],
                "personality_traits": [1, 2],
                "matching_preferences": {"age_range": [40, 20], "deal_breakers": "smoking"},
                "favourite_colour": "blue",
                "training_level": 1.0,
            }
        ),
        json.dumps({"love_values": "x" * 201, "life_rhythm": None}),
    ],
    ids=["prose", "array", "wrong-types", "too-long"],
)
def test_garbage_structure_merges_nothing(alice, structure):
    chat_model = model(FACTS, structure)
    assert extract(alice, chat_model) == {}
    assert chat_model.calls == 2


@pytest.mark.django_db
def test_only_schema_fields_of_the_right_type_are_kept_and_cleaned(alice):
    structure = (
        "Here you go: "
        + json.dumps(
            {
                "city": "  Porto\n\n(moved in May) ",
                "interests": ["surfing", 3, "", "Surfing", "x" * 300, "  early   swims "],
                "matching_preferences": {
                    "preferred_gender": "women",
                    "age_range": [25, 35],
                    "deal_breakers": "smoking",
                    "height": 180,
                },
                "mbti_guess": {"type": "INTJ"},
                "unknown": "dropped",
            },
            ensure_ascii=False,
        )
        + " Hope that helps!"
    )
    fields = extract(alice, model(FACTS, structure))

    assert fields == {
        "city": "Porto (moved in May)",
        "interests": ["surfing", "early swims"],
        "matching_preferences": {"preferred_gender": "women", "age_range": [25, 35]},
    }


@pytest.mark.django_db
def test_the_structure_prompt_lists_the_facts_the_profile_and_the_field_shapes(alice):
    CompanionInsights.objects.create(user_id=alice, insights={"city": "Lisboa"})
    chat_model = model(FACTS, "{}")
    extract(alice, chat_model)
    prompt = chat_model.requests[1].messages[0].content
    assert "- lives in Porto\n- likes surfing" in prompt
    assert '"city": "Lisboa"' in prompt
    assert "- interests: an array of short strings" in prompt
    assert "user's own language" in prompt
    assert profile_update_of(chat_model.requests[1]) == ProfileUpdate(
        facts=("lives in Porto", "likes surfing"),
        profile={"city": "Lisboa"},
    )


@pytest.mark.django_db
def test_merge_unions_lists_case_insensitively_and_recomputes_training_level(alice):
    insight_merge(user_id=alice, facts={"city": "Lisbon", "interests": ["hiking", "tea"]})
    row = insight_merge(
        user_id=alice,
        facts={"city": "Porto", "interests": ["Tea", "surfing"], "bogus": 1, "occupation": 7},
    )
    row.refresh_from_db()
    assert row.insights == {"city": "Porto", "interests": ["hiking", "tea", "surfing"]}
    assert row.training_level == training_level(row.insights) == pytest.approx(0.15)


@pytest.mark.django_db
def test_merged_lists_keep_the_most_recent_items_up_to_the_cap(alice):
    insight_merge(user_id=alice, facts={"interests": [f"old {i}" for i in range(MAX_LIST_ITEMS)]})
    row = insight_merge(user_id=alice, facts={"interests": ["new one", "new two"]})
    assert len(row.insights["interests"]) == MAX_LIST_ITEMS
    assert row.insights["interests"][-2:] == ["new one", "new two"]
    assert "old 0" not in row.insights["interests"]


def test_sanitize_of_anything_but_an_object_is_empty():
    for value in (None, "city", 3, [{"city": "Porto"}]):
        assert sanitize(value) == {}
