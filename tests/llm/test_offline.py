"""The offline chat model: exact answers for each task, determinism, and refusals."""

from __future__ import annotations

import json
import re

import pytest

from eros.llm.base import (
    TASK_AFFINITY,
    TASK_CHAT,
    TASK_INSIGHT,
    TASK_MEMORY,
    ChatMessage,
    ChatModel,
    ChatRequest,
    ProviderError,
)
from eros.llm.offline import OfflineChatModel

JUNO = {
    "name": "Juno",
    "age": 27,
    "speech_style": "Terse and teasing.",
    "quirks": ["rates things out of ten"],
    "topics": ["bike repair", "cyclocross", "strong tea"],
    "backstory": "Grew up above a hardware shop.",
}
AFFINITY = {
    "warmth": 0.3,
    "trust": 0.2,
    "intrigue": 0.5,
    "intimacy": 0.1,
    "patience": 0.5,
    "tension": 0.1,
}
STYLES = ["warm", "neutral", "cold", "tsundere", "excited"]


@pytest.fixture
def model() -> OfflineChatModel:
    return OfflineChatModel()


def ask(model: OfflineChatModel, task: str, **payload) -> str:
    request = ChatRequest(
        task=task,
        model="x-ai/grok-4-fast",
        messages=(ChatMessage("user", "ignored by the offline provider"),),
        payload=payload,
    )
    result = model.complete(request)
    assert result.model == "offline"
    return result.text


def chat(model: OfflineChatModel, user_message: str, **overrides) -> str:
    payload = {
        "persona": JUNO,
        "style": "warm",
        "label": "stranger",
        "affinity": AFFINITY,
        "recalled": [],
        "insights": {},
        "user_message": user_message,
        "turn": 3,
    }
    payload.update(overrides)
    return ask(model, TASK_CHAT, **payload)


def sentences(text: str) -> int:
    return len(re.findall(r"[.!?]+(?:\s|$)", text))


# --- protocol -------------------------------------------------------------------------------


def test_offline_model_satisfies_the_chat_model_protocol(model):
    assert isinstance(model, ChatModel)
    assert model.name == "offline"


def test_unknown_task_raises_a_permanent_provider_error(model):
    with pytest.raises(ProviderError) as info:
        ask(model, "pde_decision")
    assert str(info.value) == "offline provider has no answer for task pde_decision"
    assert info.value.retryable is False


def test_unknown_insight_step_raises_a_permanent_provider_error(model):
    with pytest.raises(ProviderError) as info:
        ask(model, TASK_INSIGHT, step="summary")
    assert info.value.retryable is False


# --- insight_extraction: facts --------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_message", "facts"),
    [
        (
            "I live in Lisbon and I work as a nurse. I love hiking, jazz and old films, "
            "but I hate mornings.",
            [
                "lives in Lisbon",
                "works as a nurse",
                "likes hiking",
                "likes jazz",
                "likes old films",
                "dislikes mornings",
            ],
        ),
        (
            "My dog is called biscuit, I'm 29 years old and I'm a total night owl.",
            ["has a dog called Biscuit", "is 29 years old", "is a night owl"],
        ),
        (
            "I'm a software engineer at a startup and I'm a bit shy.",
            ["works as a software engineer", "is shy"],
        ),
        ("I'm from Porto but I moved to Berlin last year", ["lives in Porto", "lives in Berlin"]),
        ("i work at the hospital now", ["works at the hospital"]),
        ("I'm an early bird, honestly", ["is an early bird"]),
        ("I have a cat named Miso.", ["has a cat called Miso"]),
        ("I love you so much", []),
        ("I'm a bit tired of this", []),
        ("I'm a little under the weather", []),
        ("Do you like cats?", []),
        ("我住在上海", []),
    ],
)
def test_facts_step_finds_first_person_facts(model, user_message, facts):
    text = ask(model, TASK_INSIGHT, step="facts", user_message=user_message, reply="I love Paris")
    assert json.loads(text) == {"facts": facts}


def test_facts_step_answers_exact_json_text(model):
    text = ask(model, TASK_INSIGHT, step="facts", user_message="I live in Lisbon.", reply="Nice!")
    assert text == '{"facts": ["lives in Lisbon"]}'


def test_facts_step_ignores_the_companion_reply(model):
    text = ask(model, TASK_INSIGHT, step="facts", user_message="ok", reply="I live in Paris.")
    assert json.loads(text) == {"facts": []}


def test_facts_step_understands_curly_apostrophes(model):
    text = ask(model, TASK_INSIGHT, step="facts", user_message="I\u2019m a teacher", reply="")
    assert json.loads(text) == {"facts": ["works as a teacher"]}


# --- insight_extraction: structure ----------------------------------------------------------


def test_structure_step_fills_schema_fields_from_facts(model):
    facts = [
        "lives in Porto",
        "lives in berlin",
        "works as a software engineer",
        "likes hiking",
        "likes Jazz",
        "is a night owl",
        "is shy",
        "has a dog called Biscuit",
        "lives in a small flat",
        "is 29 years old",
    ]
    existing = {
        "city": "Porto",
        "interests": ["jazz", "reading"],
        "personality_traits": ["curious"],
    }
    text = ask(model, TASK_INSIGHT, step="structure", facts=facts, existing=existing)
    assert json.loads(text) == {
        "city": "Berlin",
        "occupation": "software engineer",
        "interests": ["jazz", "reading", "hiking"],
        "life_rhythm": "night owl",
        "personality_traits": ["curious", "shy"],
    }


def test_structure_step_omits_lists_with_nothing_new(model):
    text = ask(
        model,
        TASK_INSIGHT,
        step="structure",
        facts=["likes jazz"],
        existing={"interests": ["Jazz"]},
    )
    assert json.loads(text) == {}


def test_structure_step_gives_an_empty_object_for_facts_it_cannot_read(model):
    text = ask(model, TASK_INSIGHT, step="structure", facts=["住在上海", 7], existing=None)
    assert text == "{}"


# --- memory_extraction ----------------------------------------------------------------------


def test_memory_extraction_categorises_user_statements_and_cites_sources(model):
    messages = [
        {"id": "m1", "role": "user", "content": "I live in Lisbon and I love hiking."},
        {"id": "m2", "role": "assistant", "content": "I live in Paris and I love wine."},
        {
            "id": "m3",
            "role": "user",
            "content": (
                "Yesterday I went hiking with my sister. I'm so tired because of the night shift."
            ),
        },
        {
            "id": "m4",
            "role": "user",
            "content": "My sister Ana lives in Porto. I miss my mom. I just got promoted!",
        },
        {"id": "m5", "role": "user", "content": "I love hiking, honestly. I'm a bit shy."},
    ]
    text = ask(model, TASK_MEMORY, messages=messages)
    assert json.loads(text) == {
        "memories": [
            {"content": "Lives in Lisbon", "category": "fact", "source_message_ids": ["m1"]},
            {
                "content": "Loves hiking",
                "category": "preference",
                "source_message_ids": ["m1", "m5"],
            },
            {
                "content": "Went hiking with their sister (yesterday)",
                "category": "event",
                "source_message_ids": ["m3"],
            },
            {
                "content": "Feels tired because of the night shift",
                "category": "emotion",
                "source_message_ids": ["m3"],
            },
            {
                "content": "Their sister Ana lives in Porto",
                "category": "relation",
                "source_message_ids": ["m4"],
            },
            {"content": "Misses their mom", "category": "relation", "source_message_ids": ["m4"]},
            {"content": "Just got promoted", "category": "event", "source_message_ids": ["m4"]},
            {"content": "Is shy", "category": "emotion", "source_message_ids": ["m5"]},
        ]
    }


def test_memory_extraction_returns_at_most_ten_memories(model):
    messages = [
        {"id": str(i), "role": "user", "content": f"I love topic{i}. I hate chore{i}."}
        for i in range(8)
    ]
    memories = json.loads(ask(model, TASK_MEMORY, messages=messages))["memories"]
    assert len(memories) == 10
    assert memories[0] == {
        "content": "Loves topic0",
        "category": "preference",
        "source_message_ids": ["0"],
    }


def test_memory_extraction_of_small_talk_is_empty(model):
    messages = [{"id": "a", "role": "user", "content": "haha ok"}]
    assert ask(model, TASK_MEMORY, messages=messages) == '{"memories": []}'


# --- affinity_evaluation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_message", "expected"),
    [
        (
            "Thank you, that's so sweet <3",
            [0.12, 0.0, 0.0, 0.0, -0.02, "warm words: thank, sweet, <3"],
        ),
        (
            "You're stupid and boring. Shut up.",
            [-0.15, 0.0, 0.0, 0.0, 0.15, "hostile words: stupid, boring, shut up"],
        ),
        ("I don't like you", [-0.06, 0.0, 0.0, 0.0, 0.08, "hostile words: don't like"]),
        (
            "Where are you from? What do you do for fun?",
            [0.04, 0.0, 0.06, 0.0, -0.02, "warm words: fun; asked questions"],
        ),
        (
            "I've never told anyone this, but I feel so lonely",
            [0.0, 0.06, 0.0, 0.07, 0.0, "confided something personal"],
        ),
        ("I live in Lisbon", [0.0, 0.03, 0.0, 0.02, 0.0, "shared personal details"]),
        ("ok", [0.0, 0.0, 0.0, 0.0, 0.0, "no strong signal in the message"]),
    ],
)
def test_affinity_evaluation_scores_the_user_message(model, user_message, expected):
    text = ask(model, TASK_AFFINITY, user_message=user_message, reply="Hm.", affinity=AFFINITY)
    keys = ["warmth", "trust", "intrigue", "intimacy", "tension", "reason"]
    assert json.loads(text) == dict(zip(keys, expected, strict=True))


def test_affinity_evaluation_has_no_patience_and_stays_within_bounds(model):
    rant = "stupid idiot dumb useless awful, shut up, go away, leave me alone!!! why? why?"
    data = json.loads(ask(model, TASK_AFFINITY, user_message=rant, reply="", affinity={}))
    assert "patience" not in data
    assert all(
        -0.15 <= data[axis] <= 0.15
        for axis in ["warmth", "trust", "intrigue", "intimacy", "tension"]
    )


def test_affinity_evaluation_answers_exact_json_text(model):
    text = ask(model, TASK_AFFINITY, user_message="ok", reply="", affinity={})
    assert text == (
        '{"warmth": 0.0, "trust": 0.0, "intrigue": 0.0, "intimacy": 0.0, "tension": 0.0, '
        '"reason": "no strong signal in the message"}'
    )


# --- chat_companion -------------------------------------------------------------------------


def test_reply_weaves_in_the_top_recalled_memory_in_second_person(model):
    reply = chat(model, "I had such a long day at work", recalled=["I live in Lisbon with my cat"])
    assert reply == (
        "Oh, work? I want to hear all of it. "
        "I remember you telling me you live in Lisbon with your cat."
    )


@pytest.mark.parametrize(
    ("memory", "phrase"),
    [
        ("Lives in Lisbon", "you live in Lisbon"),
        ("Has a dog called Biscuit", "you have a dog called Biscuit"),
        ("Is 29 years old", "you are 29 years old"),
        ("Their sister Ana lives in Porto", "your sister Ana lives in Porto"),
        ("Went hiking with their sister (yesterday)", "you went hiking with your sister yesterday"),
        ("Just got promoted", "you just got promoted"),
        ("Misses their mom", "you miss your mom"),
        ("My job is boring. I want to quit.", "your job is boring"),
        ("User works as a nurse", "you work as a nurse"),
    ],
)
def test_recalled_memory_is_rephrased_for_the_user(model, memory, phrase):
    for style in STYLES:
        reply = chat(model, "so anyway", style=style, recalled=[memory, "Loves jazz"])
        assert phrase in reply, (style, reply)
        assert "jazz" not in reply  # only the top memory


def test_memory_that_is_not_a_clause_is_quoted(model):
    reply = chat(model, "hmm", recalled=["住在上海"])
    assert 'You told me this once: "住在上海".' in reply


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    "user_message",
    [
        "hi",
        "how are you?",
        "I live in Lisbon and I love hiking",
        "I'm so tired today",
        "what are you up to?",
        "do you like my cooking?",
        "ok",
        "我今天很累",
        "My dog is called Rex",
        "Yesterday I went hiking with my sister",
        "",
    ],
)
def test_reply_is_one_to_three_sentences_in_every_style(model, style, user_message):
    for recalled in ([], ["Lives in Lisbon"]):
        for label in ("stranger", "friend"):
            reply = chat(model, user_message, style=style, recalled=recalled, label=label, turn=1)
            assert reply and reply == reply.strip()
            assert 1 <= sentences(reply) <= 3, reply


def test_reply_is_deterministic(model):
    first = chat(model, "I love hiking", recalled=["Lives in Lisbon"])
    assert chat(OfflineChatModel(), "I love hiking", recalled=["Lives in Lisbon"]) == first


def test_reply_varies_with_the_turn(model):
    replies = {chat(model, "I had a weird day", turn=turn) for turn in range(1, 9)}
    assert len(replies) > 1


def test_first_greeting_introduces_the_persona(model):
    reply = chat(model, "hi", turn=1)
    assert (
        reply
        == "Hi, I was hoping you'd write. I'm Juno. Can I ask, what do you think of cyclocross?"
    )


def test_direct_questions_get_direct_answers(model):
    assert chat(model, "what's your name?") == "I'm Juno."
    assert chat(model, "how old are you?") == "I'm 27."


def test_reply_reacts_to_what_the_user_shared(model):
    assert chat(model, "I love hiking", style="excited").startswith(
        ("Ooh, you love hiking?", "Oh wow, you love hiking?", "Wait, you love hiking?")
    )
    assert "sorry you're feeling tired" in chat(model, "I'm so tired today")
    assert "Rex" in chat(model, "My dog is called Rex", style="cold")


def test_topic_questions_come_from_the_persona(model):
    replies = [chat(model, f"I had a weird day number {n}", turn=n) for n in range(12)]
    questions = [r.rsplit(". ", 1)[-1] for r in replies if r.endswith("?")]
    assert questions
    assert all(any(topic in q for topic in JUNO["topics"]) for q in questions), questions


def test_tense_mood_drops_the_topic_question(model):
    tense = {**AFFINITY, "tension": 0.8}
    for n in range(8):
        reply = chat(model, f"whatever {n}", affinity=tense, turn=n)
        assert not any(t in reply for t in JUNO["topics"]), reply


def test_chat_reply_survives_an_empty_payload(model):
    assert ask(model, TASK_CHAT) == "Okay."


def test_hostile_and_affectionate_messages_get_a_reaction_not_an_echo(model):
    assert chat(model, "you're so stupid").startswith("Ouch, that stung a little.")
    assert chat(model, "I love you", style="tsundere").startswith("W-what?")


def test_a_noun_after_an_article_is_not_a_trait(model):
    text = ask(model, TASK_INSIGHT, step="facts", user_message="I'm a patient at the clinic")
    assert json.loads(text) == {"facts": []}
    text = ask(model, TASK_INSIGHT, step="facts", user_message="I'm an introvert")
    assert json.loads(text) == {"facts": ["is introverted"]}


def test_chat_reply_streams_word_by_word_and_joins_to_the_reply(model):
    request = ChatRequest(
        task=TASK_CHAT,
        model="m",
        messages=(),
        payload={"persona": JUNO, "style": "warm", "user_message": "I love hiking", "turn": 2},
    )
    chunks = list(model.stream(request))
    assert len(chunks) > 3
    assert "".join(chunks) == model.complete(request).text
    assert all(chunk.strip() and " " not in chunk.strip() for chunk in chunks)


def test_json_tasks_stream_as_one_chunk(model):
    request = ChatRequest(
        task=TASK_AFFINITY, model="m", messages=(), payload={"user_message": "thank you!"}
    )
    assert list(model.stream(request)) == [model.complete(request).text]


def test_streaming_an_unknown_task_raises_a_permanent_provider_error(model):
    with pytest.raises(ProviderError) as caught:
        list(model.stream(ChatRequest(task="pde_decision", model="m", messages=())))
    assert not caught.value.retryable
