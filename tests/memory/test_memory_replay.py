"""``memory_eval --replay``: scripted conversations through the chat pipeline, post-process and
dreaming, scored against the turn's recall (``companions.services.replay``)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Task

from companions.models import ChatMessage, ChatSession
from companions.services.replay import (
    ReplayFile,
    recalled_order,
    replay_ask,
    replay_erase,
    replay_personas,
    replay_scenario,
    replay_score,
)
from eros.llm.offline import OfflineChatModel
from memory.models import CompanionMemory
from memory.selectors import MemoryHit, Ranking
from memory.services.user_memories import memory_add
from personas.models import PersonaInstance
from tests.conftest import FIXTURES

# --- the scoring rule ---------------------------------------------------------------------------


def test_a_memory_holding_every_expected_string_is_a_hit():
    score = replay_score(
        recalled=["Has a dog", "Lives in PORTO with her dog"], expect=["porto", "Dog"], stale=[]
    )
    assert (score.hit, score.hit_rank, score.stale) == (True, 1, False)


def test_expected_strings_split_over_two_memories_are_a_miss():
    score = replay_score(
        recalled=["Lives in Porto", "Has a dog"], expect=["Porto", "dog"], stale=[]
    )
    assert (score.hit, score.hit_rank) == (False, None)


def test_a_stale_string_ranked_above_the_first_hit_is_stale():
    score = replay_score(
        recalled=["Lives in Lisbon", "Lives in Porto"], expect=["Porto"], stale=["Lisbon"]
    )
    assert (score.hit, score.stale, score.hit_rank, score.stale_rank) == (True, True, 1, 0)


def test_a_stale_string_anywhere_is_stale_when_nothing_hits():
    score = replay_score(
        recalled=["Works as a nurse", "Lives in lisbon"], expect=["Porto"], stale=["Lisbon"]
    )
    assert (score.hit, score.stale, score.stale_rank) == (False, True, 1)


def test_a_stale_string_below_the_hit_is_not_stale():
    score = replay_score(
        recalled=["Lives in Porto", "Lives in Lisbon"], expect=["Porto"], stale=["Lisbon"]
    )
    assert (score.hit, score.stale, score.stale_rank) == (True, False, None)


def test_the_hit_itself_may_name_the_old_fact():
    score = replay_score(
        recalled=["Moved from Lisbon to Porto"], expect=["Porto"], stale=["Lisbon"]
    )
    assert (score.hit, score.stale) == (True, False)


def test_nothing_recalled_is_a_miss_and_not_stale():
    score = replay_score(recalled=[], expect=["Porto"], stale=["Lisbon"])
    assert (score.hit, score.stale) == (False, False)


def _hit(content: str, score: float, *, pinned: bool = False) -> MemoryHit:
    return MemoryHit(
        uuid.uuid4(), content, "fact", 0.5, score, datetime.now(UTC), (), pinned=pinned
    )


def test_recalled_memories_are_ordered_pinned_first_then_by_score():
    hits = [_hit("low", 0.2), _hit("mine", 0.1, pinned=True), _hit("high", 1.4)]
    assert [h.content for h in recalled_order(hits)] == ["mine", "high", "low"]


# --- the file --------------------------------------------------------------------------------


def _file(**scenario) -> dict:
    base = {
        "id": "s1",
        "persona": "Noor",
        "sessions": [{"start": "2025-01-03T19:00:00Z", "turns": ["I live in Lisbon."]}],
        "questions": [{"ask": "Where do I live?", "expect": ["Lisbon"]}],
    }
    return {"scenarios": [{**base, **scenario}]}


def test_sessions_out_of_time_order_are_refused():
    data = _file(
        sessions=[
            {"start": "2025-01-03T19:00:00Z", "turns": ["a", "b"]},
            {"start": "2025-01-03T19:01:00Z", "turns": ["c"]},
        ]
    )
    with pytest.raises(ValueError, match="sessions are in time order"):
        ReplayFile.model_validate(data)


@pytest.mark.parametrize(
    "name",
    [
        "memory_replay.json",
        "memory_replay_heldout.json",
        "memory_replay_heldout2.json",
        "memory_replay_heldout3.json",
        "memory_replay_heldout4.json",
    ],
)
def test_the_shipped_replay_files_are_well_formed_and_big_enough(name):
    data = ReplayFile.model_validate_json((FIXTURES / "conversations" / name).read_bytes())
    assert len(data.scenarios) >= 12
    assert sum(len(s.questions) for s in data.scenarios) >= 50
    names = set().union(*(s.persona_names() for s in data.scenarios))
    shipped = {p.stem.capitalize() for p in (FIXTURES / "personas").glob("*.toml")}
    assert names <= shipped
    # Two personas for one user somewhere, and facts that changed (stale strings).
    assert any(len(s.persona_names()) > 1 for s in data.scenarios)
    assert sum(bool(q.stale) for s in data.scenarios for q in s.questions) >= 10


# --- the command -------------------------------------------------------------------------------

TINY = {
    "scenarios": [
        {
            "id": "moves",
            "persona": "Noor",
            "sessions": [
                {
                    "start": "2025-01-03T19:00:00Z",
                    "turns": ["I live in Lisbon.", "haha", "Where do I live?"],
                },
                {"start": "2025-01-10T20:00:00Z", "turns": ["I work as a nurse now."]},
            ],
            "questions": [
                {"ask": "Where do I live?", "expect": ["Lisbon"]},
                # Never said: a miss; and Lisbon, recalled with no hit, is stale.
                {"ask": "What is my cat called?", "expect": ["Zanzibar"], "stale": ["Lisbon"]},
            ],
            "never": ["haha"],
        },
        {
            "id": "two-personas",
            "persona": "Noor",
            "sessions": [
                {"start": "2025-02-01T09:00:00Z", "turns": ["My dog is called Biscuit."]},
                {
                    "start": "2025-02-02T09:00:00Z",
                    "persona": "Juno",
                    "turns": ["I play the cello in an orchestra."],
                },
            ],
            "questions": [
                # Said to Noor, asked of Juno: the profile layer is shared.
                {"ask": "What is my dog called?", "expect": ["Biscuit"], "persona": "Juno"},
                # Both strings must be in one memory; they were said apart: a miss, not stale.
                {"ask": "What instrument do I play?", "expect": ["cello", "Biscuit"]},
            ],
        },
    ]
}


@pytest.fixture
def offline(settings):
    settings.EROS_CHAT_MODEL = OfflineChatModel()


@pytest.fixture
def tiny(tmp_path, personas, offline):
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(TINY))
    return path


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("memory_eval", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _rates(out: str) -> tuple[float, int, float, int]:
    match = re.search(
        r"hit rate (\d\.\d{3}) \((\d+)/\d+\), stale rate (\d\.\d{3}) \((\d+)/\d+\)", out
    )
    assert match, out
    return float(match[1]), int(match[2]), float(match[3]), int(match[4])


@pytest.mark.django_db(transaction=True)
def test_the_replay_prints_the_hit_and_stale_figures_of_its_scoring_rule(tiny, tmp_path):
    report = tmp_path / "report.json"
    out, err = run("--replay", tiny, "--k", 50, "--json", report)

    assert _rates(out) == (0.5, 2, 0.25, 1)
    assert "moves: hits 1/2, stale 1" in out
    assert "two-personas: hits 1/2, stale 0" in out
    assert "  hit          Where do I live?" in out
    assert "  miss, stale  What is my cat called?" in out
    assert "  hit          What is my dog called? (to Juno)" in out
    assert "4 session(s), 6 turns (0 ghosted, 0 failed)" in out
    assert "replaying turns" in err and "asking questions" in err

    # Every printed figure is the scoring rule applied to what was recalled.
    payload = json.loads(report.read_text())
    asked = {q["ask"]: q for s in TINY["scenarios"] for q in s["questions"]}
    flags = []
    for scenario in payload["scenarios"]:
        for q in scenario["questions"]:
            score = replay_score(
                recalled=q["recalled"],
                expect=asked[q["ask"]]["expect"],
                stale=asked[q["ask"]].get("stale", []),
            )
            assert (q["hit"], q["stale"]) == (score.hit, score.stale)
            flags.append(score)
    assert (payload["hits"], payload["stale"]) == (2, 1)
    assert sum(s.hit for s in flags) == 2 and sum(s.stale for s in flags) == 1


@pytest.mark.django_db(transaction=True)
def test_the_replay_leaves_nothing_behind(tiny):
    run("--replay", tiny)
    assert not ChatSession.objects.exists()
    assert not ChatMessage.objects.exists()
    assert not CompanionMemory.objects.exists()
    assert not PersonaInstance.objects.exists()
    assert not Task.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_kept_replays_carry_the_simulated_times(tiny):
    out, _ = run("--replay", tiny, "--keep")
    users = re.search(r"kept the replayed users: (.+)", out)[1].split(", ")
    assert len(users) == 2
    session = ChatSession.objects.get(user_id=users[0])
    sent = list(
        ChatMessage.objects.filter(session=session, role="user")
        .order_by("sent_at")
        .values_list("content", "sent_at")
    )
    start, later = datetime(2025, 1, 3, 19, tzinfo=UTC), datetime(2025, 1, 10, 20, tzinfo=UTC)
    assert sent == [
        ("I live in Lisbon.", start + timedelta(minutes=1)),
        ("haha", start + timedelta(minutes=2)),
        ("Where do I live?", start + timedelta(minutes=3)),
        ("I work as a nurse now.", later + timedelta(minutes=1)),
    ]
    # Distilled once per sitting, as if idle: the stamp is the last distilled message's time.
    assert session.classified_at < later + timedelta(minutes=2)
    assert session.classified_at > later + timedelta(minutes=1)
    times = CompanionMemory.objects.filter(user_id=users[0]).values_list("occurred_at", flat=True)
    assert times and all(start < t < later + timedelta(minutes=2) for t in times)


@pytest.mark.django_db(transaction=True)
def test_the_replay_honours_the_ranking_options_and_prints_them(tiny):
    out, _ = run(
        "--replay", tiny, "--recency-weight", 0, "--recency-weight-now", 0, "--importance-weight", 0
    )
    assert "recency weight 0 (0 asking about now; tau 90 days), importance weight 0" in out
    assert "memory scope neutral_and_relationship" in out


@pytest.mark.django_db(transaction=True)
def test_a_sweep_replays_once_and_asks_under_every_ranking(tiny):
    out, _ = run("--replay", tiny, "--sweep", "recency_weight=0,0.5", "--sweep", "mode=text,fused")
    lines = [line for line in out.splitlines() if "BM25 k1" in line]
    assert len(lines) == 4
    assert "4 session(s), 6 turns" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "Invalid JSON"),
        ('{"scenarios": []}', "scenarios: List should have at least 1 item"),
        (json.dumps(_file(questions=[{"ask": "Where?", "expect": []}])), "expect"),
        (json.dumps(_file(persona="Nobody")), "no active persona named 'Nobody'"),
    ],
    ids=["not-json", "empty", "no-expect", "unknown-persona"],
)
@pytest.mark.django_db
def test_a_bad_replay_file_is_one_line_and_exit_code_2(tmp_path, personas, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(CommandError) as caught:
        run("--replay", path)
    assert caught.value.returncode == 2
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.django_db
def test_a_missing_replay_file_is_exit_code_2(tmp_path):
    with pytest.raises(CommandError, match="no such file") as caught:
        run("--replay", tmp_path / "nope.json")
    assert caught.value.returncode == 2


def test_a_file_and_a_replay_together_are_refused(tmp_path):
    with pytest.raises(CommandError, match="one of them"):
        run(tmp_path / "a.json", "--replay", tmp_path / "b.json")


# --- the service, with pinned memories to place a stale fact ------------------------------------

MOVED = ReplayFile.model_validate(
    {
        "scenarios": [
            {
                "id": "moved",
                "persona": "Noor",
                "sessions": [
                    {"start": "2025-01-03T19:00:00Z", "turns": ["I live in Lisbon."]},
                    {"start": "2025-03-03T19:00:00Z", "turns": ["I moved to Porto last week."]},
                ],
                "questions": [
                    {"ask": "Where do I live?", "expect": ["Porto"], "stale": ["Lisbon"]}
                ],
            }
        ]
    }
)


@pytest.mark.django_db(transaction=True)
def test_a_pinned_old_fact_above_the_current_one_makes_the_answer_stale(personas, offline):
    (scenario,) = MOVED.scenarios
    replayed = replay_scenario(scenario=scenario, genomes=replay_personas(MOVED))
    try:
        memory_add(user_id=replayed.user_id, content="I still live in Lisbon, in Alfama")
        (result,) = replay_ask(replayed=replayed, ranking=Ranking.from_settings(), k=20).questions
        assert result.recalled[0] == "I still live in Lisbon, in Alfama"
        assert (result.score.hit, result.score.stale, result.score.stale_rank) == (True, True, 0)
    finally:
        replay_erase(replayed=replayed)


@pytest.mark.django_db(transaction=True)
def test_a_pinned_current_fact_first_is_a_hit_that_is_not_stale(personas, offline):
    (scenario,) = MOVED.scenarios
    replayed = replay_scenario(scenario=scenario, genomes=replay_personas(MOVED))
    try:
        memory_add(user_id=replayed.user_id, content="I live in Porto, near the river")
        (result,) = replay_ask(replayed=replayed, ranking=Ranking.from_settings(), k=20).questions
        assert (result.score.hit, result.score.hit_rank, result.score.stale) == (True, 0, False)
        # The replayed move superseded Lisbon: it is not recalled at all.
        assert not any("Lisbon" in text for text in result.recalled)
    finally:
        replay_erase(replayed=replayed)
    assert not ChatMessage.objects.exists() and not CompanionMemory.objects.exists()


@pytest.mark.django_db
def test_a_never_string_leaks_as_typed_or_in_the_third_person(alice):
    from companions.services.replay import _leaks
    from eros.llm.fakes import FakeEmbedder

    for content in ("Where do they live again", "Lives in Porto", "Of course I said yes"):
        memory_add(user_id=alice, content=content, embedder=FakeEmbedder())

    leaks = _leaks(alice, ["where do I live again", "of course I said yes", "ok thanks"])
    assert sorted(leaks) == ["Of course I said yes", "Where do they live again"]
