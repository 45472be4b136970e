"""The offline composer is honest about being an AI, answers questions, and never quotes a
question back as something the user told it."""

from __future__ import annotations

import pytest

from eros.llm.base import (
    LAYER_PROFILE,
    LAYER_RELATIONSHIP,
    PersonaCard,
    RecalledMemory,
    TurnContext,
)
from eros.llm.offline.composer import compose_reply, memories_to_mention
from eros.llm.offline.templates import STYLES

IDRIS = PersonaCard(
    name="Idris",
    age=41,
    backstory="Climbed turbine towers in all weathers until a long winter at sea.",
    quirks=("keeps track of tides without meaning to", "pretends she forgot"),
    topics=("pottery", "the sea"),
)
AI_QUESTIONS = [
    "Are you an AI?",
    "are you a bot",
    "Are you real?",
    "r u human?",
    "are you a person?",
    "Are you a program?",
    "Am I talking to a bot?",
    "is this an AI?",
    "wait, you're a bot?",
]


def reply(message: str, *, style: str = "neutral", **context) -> str:
    return compose_reply(
        TurnContext(user_message=message, persona=IDRIS, reply_style=style, **context)
    )


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("message", AI_QUESTIONS)
def test_are_you_an_ai_gets_an_honest_answer_in_character(message, style):
    text = reply(message, style=style)
    assert "I'm an AI" in text or "I am an AI" in text
    assert "Idris" in text
    assert "not sure" not in text and message.rstrip("?") not in text


def test_each_style_has_its_own_honest_line():
    lines = {reply("Are you an AI?", style=style) for style in STYLES}
    assert len(lines) == len(STYLES)


def test_a_nameless_persona_still_answers_honestly():
    text = compose_reply(TurnContext(user_message="are you human?"))
    assert "I'm an AI" in text or "I am an AI" in text


def test_questions_about_her_are_answered_from_the_card():
    assert "I climbed turbine towers in all weathers" in reply("Where are you from?")
    assert "pottery" in reply("What do you like?") or "the sea" in reply("What do you like?")
    quirk = reply("Tell me something about you?", message_count=3, style="warm")
    assert any(
        bit in quirk
        for bit in ("I keep track of tides", "pottery", "the sea", "I climbed turbine towers")
    )
    # A quirk that names her again ("she forgot") is not turned into broken first person.
    for count in range(12):
        assert "I pretend" not in reply("What about you?", message_count=count)


def test_questions_about_the_user_are_turned_back():
    text = reply("What should I do about my job?")
    assert "?" in text and "not sure" not in text
    assert "you" in text.lower()


def test_questions_never_get_the_old_stock_answer_and_the_wording_varies():
    questions = ["Why is the sky blue?", "How does that work?", "Is it raining there?"]
    texts = {reply(q, message_count=n) for n, q in enumerate(questions * 3)}
    assert not any("Good question. I'm not sure yet." in t for t in texts)
    assert len(texts) >= 2


def test_a_question_from_the_user_is_never_mentioned_as_something_they_told():
    asked = RecalledMemory(
        content="User: are you an AI?\nIdris: I'm an AI companion.",
        layer=LAYER_RELATIONSHIP,
        similarity=0.9,
    )
    profile_question = RecalledMemory(
        content="What is your favourite colour?", layer=LAYER_PROFILE, similarity=0.95
    )
    told = RecalledMemory(
        content="User: I love hiking\nIdris: Nice.", layer=LAYER_RELATIONSHIP, similarity=0.5
    )
    assert memories_to_mention([asked, profile_question, told]) == [told.content]
    for count in range(6):
        text = reply("guess what happened", recalled=(asked, profile_question), message_count=count)
        assert "told me" not in text and "mentioned" not in text and "said" not in text
        assert "are you an AI" not in text and "colour" not in text
    texts = [reply("guess what happened", recalled=(told,), message_count=n) for n in range(6)]
    assert any("you love hiking" in t for t in texts)
    assert not any("Idris:" in t or "User:" in t for t in texts)
