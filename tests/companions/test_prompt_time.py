"""Time she can feel: the prompt carries the date and time, the gap since the user last wrote,
and each recalled memory's age in event time (companions.prompt, section 7)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from companions.domain.types import AXES, ReplyStyle
from companions.models import ChatMessage
from companions.prompt import PromptInputs, build_system_prompt, humanise_age, humanise_gap
from companions.scopes import resolve_memory_scope
from eros.llm.base import TASK_CHAT
from eros.llm.fakes import RecordingChatModel, unit_vector
from eros.llm.offline import OfflineChatModel
from memory.models import CompanionMemory
from memory.selectors import MemoryHit, Recall

NOW = datetime(2025, 3, 12, 23, 30, tzinfo=UTC)  # a Wednesday


def hit(content: str, occurred_at: datetime) -> MemoryHit:
    return MemoryHit(uuid.uuid4(), content, "event", 0.9, 0.9, occurred_at, ())


def inputs(**overrides) -> PromptInputs:
    values = {
        "persona_name": "Noor",
        "system_prompt": "You are Noor.",
        "art_metadata": {},
        "insights": {},
        "recall": Recall(),
        "memory_scope": resolve_memory_scope(None),
        "affinity": dict.fromkeys(AXES, 0.5),
        "affinity_axes": frozenset(AXES),
        "style": ReplyStyle.WARM,
    }
    values.update(overrides)
    return PromptInputs(**values)


@pytest.mark.parametrize(
    ("ago", "words"),
    [
        (timedelta(hours=3), "today"),
        (timedelta(days=1), "yesterday"),
        (timedelta(days=2), "two days ago"),
        (timedelta(days=6), "six days ago"),
        (timedelta(days=7), "a week ago"),
        (timedelta(days=21), "three weeks ago"),
        (timedelta(days=29), "four weeks ago"),
        (timedelta(days=30), "a month ago"),
        (timedelta(days=100), "three months ago"),
        (timedelta(days=364), "11 months ago"),
        (timedelta(days=800), "two years ago"),
        (-timedelta(days=2), "today"),
    ],
)
def test_ages_are_humanised_in_calendar_days(ago, words):
    assert humanise_age(NOW - ago, NOW) == words


def test_a_late_evening_memory_is_yesterday_in_the_users_time_zone():
    from zoneinfo import ZoneInfo

    then = NOW - timedelta(hours=2)  # 21:30 UTC, the same UTC day...
    assert humanise_age(then, NOW) == "today"
    # ...but in Tokyo 23:30 UTC is 08:30 the next day and 21:30 UTC is 06:30 the same day.
    assert humanise_age(then, NOW, ZoneInfo("Asia/Tokyo")) == "today"
    assert humanise_age(NOW - timedelta(hours=10), NOW, ZoneInfo("Asia/Tokyo")) == "yesterday"


@pytest.mark.parametrize(
    ("hours", "words"),
    [
        (0.0, "a moment"),
        (0.5, "30 minutes"),
        (1.0, "an hour"),
        (5.5, "five hours"),
        (50, "two days"),
        (24 * 15, "two weeks"),
        (24 * 70, "two months"),
    ],
)
def test_gaps_are_humanised(hours, words):
    assert humanise_gap(hours) == words


def test_the_prompt_ends_with_the_date_the_gap_and_ages_each_memory():
    recall = Recall(
        profile_groups=[("event", [hit("started a pottery class", NOW - timedelta(days=21))])],
        relationship=[hit("laughed about the lighthouse", NOW - timedelta(days=1))],
    )
    prompt = build_system_prompt(inputs(recall=recall, now=NOW, hours_since_last_message=72.0))
    assert "- three weeks ago: started a pottery class" in prompt
    assert "- yesterday: laughed about the lighthouse" in prompt
    now_section = prompt[prompt.index("## Now") :]
    assert prompt.index("## Rules") < prompt.index("## Now")
    assert "It is Wednesday 12 March 2025, 23:30 (UTC; their time zone is unknown)." in now_section
    assert "They last wrote to you three days ago." in now_section


def test_the_users_time_zone_is_used_when_the_profile_names_one():
    prompt = build_system_prompt(
        inputs(now=NOW, hours_since_last_message=None, user_timezone="Asia/Tokyo")
    )
    assert "It is Thursday 13 March 2025, 08:30 (Asia/Tokyo, their time zone)." in prompt
    assert "This is the first thing they have written to you." in prompt
    unknown = build_system_prompt(inputs(now=NOW, user_timezone="Mars/Olympus_Mons"))
    assert "(UTC; their time zone is unknown)" in unknown


def test_time_changes_nothing_before_the_now_section():
    """The cacheable part stays byte for byte the same from one turn to the next."""
    first = build_system_prompt(inputs(now=NOW, hours_since_last_message=1.0))
    later = build_system_prompt(
        inputs(now=NOW + timedelta(days=40, minutes=7), hours_since_last_message=900.0)
    )
    prefix = first[: first.index("## Now")]
    assert later[: later.index("## Now")] == prefix
    assert first != later


@pytest.mark.django_db
def test_a_real_turn_carries_the_date_the_gap_and_the_memory_ages(
    alice_session, client_for, alice, settings
):
    recording = RecordingChatModel(OfflineChatModel())
    settings.EROS_CHAT_MODEL = recording
    now = timezone.now()
    ChatMessage.objects.create(
        session=alice_session, role="user", content="hi", sent_at=now - timedelta(days=3, hours=1)
    )
    CompanionMemory.objects.create(
        session=alice_session,
        user_id=alice,
        content="Started a pottery class",
        embedding=unit_vector(5),
        category="event",
        occurred_at=now - timedelta(days=21),
    )
    CompanionMemory.objects.create(
        session=alice_session,
        user_id=alice,
        instance_id=alice_session.instance_id,
        content="Had a job interview at the museum",
        embedding=unit_vector(6),
        category="event",
        occurred_at=now - timedelta(days=1),
    )
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message",
        {"message": "How is the pottery going, and the museum interview?"},
        format="json",
    )
    assert response.status_code == 200, response.content
    (request,) = [r for r in recording.requests if r.task == TASK_CHAT]
    prompt = request.messages[0].content
    assert f"It is {now:%A} {now.day} {now:%B %Y}, " in prompt
    assert "(UTC; their time zone is unknown)" in prompt
    assert "They last wrote to you three days ago." in prompt
    assert "- three weeks ago: Started a pottery class" in prompt
    assert "- yesterday: Had a job interview at the museum" in prompt
