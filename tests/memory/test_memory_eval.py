"""``manage.py memory_eval``: evidence recall@k over a conversation file."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from companions.models import ChatSession
from eros.llm.fakes import FakeEmbedder
from memory.models import CompanionMemory
from tests.conftest import FIXTURES

CONVERSATION = {
    "conversations": [
        {
            "id": "c1",
            "speakers": ["Ann", "Bo"],
            "turns": [
                {
                    "id": "t1",
                    "speaker": "Ann",
                    "text": "I adopted a cat named Miso",
                    "time": "2024-05-08T13:56:00Z",
                },
                {"id": "t2", "speaker": "Bo", "text": "lovely", "time": "2024-05-08T13:57:00Z"},
                {
                    "id": "t3",
                    "speaker": "Ann",
                    "text": "Miso hates rain",
                    "time": "2024-05-09T09:00:00",
                },
                {
                    "id": "t4",
                    "speaker": "Ann",
                    "text": "I work at the bakery",
                    "time": "2024-05-10T09:00:00Z",
                },
            ],
            "questions": [
                {
                    "question": "What is the cat called?",
                    "evidence": ["t1"],
                    "category": "single-hop",
                },
                {
                    "question": "Tell me about Miso",
                    "evidence": ["t1", "t3"],
                    "category": "multi-hop",
                },
                {"question": "Is it sunny?", "evidence": []},
            ],
        }
    ]
}
SEEDS = {
    "Ann: I adopted a cat named Miso": 1,
    "Bo: lovely": 2,
    "Ann: Miso hates rain": 3,
    "Ann: I work at the bakery": 4,
    "What is the cat called?": 1,
    "Tell me about Miso": 3,
    "Is it sunny?": 9,
}


@pytest.fixture
def eval_file(tmp_path, settings):
    settings.EROS_EMBEDDER = FakeEmbedder(SEEDS)
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(CONVERSATION))
    return path


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("memory_eval", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_evidence_recall_at_k_is_averaged_over_questions_and_categories(eval_file, tmp_path):
    metrics_path = tmp_path / "metrics.json"
    out, err = run(eval_file, "--k", 1, "--no-hybrid", "--json", metrics_path)
    metrics = json.loads(metrics_path.read_text())
    assert metrics["recall_at_k"] == pytest.approx(0.75)
    assert metrics["per_category"] == {
        "multi-hop": {"recall_at_k": 0.5, "questions": 1},
        "single-hop": {"recall_at_k": 1.0, "questions": 1},
    }
    assert (metrics["questions"], metrics["scored"], metrics["unscored"]) == (3, 2, 1)
    assert (metrics["turns"], metrics["k"], metrics["hybrid"]) == (4, 1, False)
    assert metrics["latency_ms"]["recall_p95"] >= metrics["latency_ms"]["recall_p50"] > 0
    assert "evidence recall@1: 0.750 over 2 questions" in out
    assert "multi-hop        0.500  (1)" in out
    assert "storing turns" in err and "4/4" in err and "asking questions" in err and "3/3" in err
    # The stored turns are erased afterwards.
    assert CompanionMemory.objects.count() == 0 and ChatSession.objects.count() == 0


@pytest.mark.django_db
def test_hybrid_recall_finds_the_turn_that_shares_a_rare_word(eval_file, tmp_path):
    metrics_path = tmp_path / "metrics.json"
    run(eval_file, "--k", 2, "--hybrid", "--json", metrics_path)
    metrics = json.loads(metrics_path.read_text())
    assert metrics["per_category"]["multi-hop"]["recall_at_k"] == 1.0
    assert metrics["hybrid"] is True


@pytest.mark.django_db
def test_turns_are_stored_with_event_time_and_one_source_each(eval_file):
    run(eval_file, "--keep", "--layer", "profile", "--batch", 3)
    rows = list(CompanionMemory.objects.order_by("occurred_at"))
    assert [r.content for r in rows] == list(SEEDS)[:4]
    assert all(r.instance_id is None and len(r.source_message_ids) == 1 for r in rows)
    assert rows[2].occurred_at.isoformat() == "2024-05-09T09:00:00+00:00"  # naive = UTC
    assert len({r.source_message_ids[0] for r in rows}) == 4


@pytest.mark.django_db
def test_a_question_citing_an_unknown_turn_is_refused(tmp_path):
    bad = json.loads(json.dumps(CONVERSATION))
    bad["conversations"][0]["questions"][0]["evidence"] = ["t99"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(CommandError, match="unknown turns"):
        run(path)


@pytest.mark.django_db
def test_repeated_turn_ids_are_refused(tmp_path):
    bad = json.loads(json.dumps(CONVERSATION))
    bad["conversations"][0]["turns"][1]["id"] = "t1"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(CommandError, match="turn ids repeat"):
        run(path)


def test_the_shipped_evaluation_file_is_well_formed():
    from memory.management.commands.memory_eval import EvalFile

    data = EvalFile.model_validate_json(
        (FIXTURES / "conversations" / "memory_eval.json").read_bytes()
    )
    assert sum(len(c.turns) for c in data.conversations) >= 300
    questions = [q for c in data.conversations for q in c.questions]
    assert len(questions) >= 60 and all(q.evidence for q in questions)
    assert {q.category for q in questions} == {"single-hop", "multi-hop", "temporal", "open-domain"}


@pytest.mark.django_db
def test_each_half_can_be_measured_alone(eval_file, tmp_path):
    results = {}
    for mode in ("text", "vector", "fused"):
        path = tmp_path / f"{mode}.json"
        out, _ = run(eval_file, "--k", 1, "--mode", mode, "--json", path)
        results[mode] = json.loads(path.read_text())
        assert f"mode {mode}" in out
    assert {m: r["mode"] for m, r in results.items()} == {
        "text": "text",
        "vector": "vector",
        "fused": "fused",
    }
    # At k = 1 the fake vectors put "Tell me about Miso" on t3 alone: half its evidence.
    assert results["vector"]["per_category"]["multi-hop"]["recall_at_k"] == 0.5
    assert results["text"]["hybrid"] is True and results["vector"]["hybrid"] is False


@pytest.mark.django_db
def test_a_sweep_runs_every_combination_on_one_stored_copy(eval_file, tmp_path):
    path = tmp_path / "sweep.json"
    out, err = run(
        eval_file,
        "--sweep",
        "mode=vector,fused",
        "--sweep",
        "text_weight=0.5,2",
        "--importance-weight",
        0,
        "--json",
        path,
    )
    rows = json.loads(path.read_text())
    assert [(r["ranking"]["mode"], r["ranking"]["text_weight"]) for r in rows] == [
        ("vector", 0.5),
        ("vector", 2.0),
        ("fused", 0.5),
        ("fused", 2.0),
    ]
    assert all(r["ranking"]["importance_weight"] == 0.0 for r in rows)
    # The 4 turns are stored once; the 3 questions are asked once per combination.
    assert err.count("4/4") == 1 and err.count("3/3") == 4
    assert len([line for line in out.splitlines() if "mode=" in line]) == 4
    assert CompanionMemory.objects.count() == 0


@pytest.mark.django_db
def test_a_bad_sweep_is_refused(eval_file):
    with pytest.raises(CommandError, match="expected NAME=V1,V2"):
        run(eval_file, "--sweep", "colour=red")
    with pytest.raises(CommandError, match="not a float"):
        run(eval_file, "--sweep", "text_weight=heavy")


@pytest.mark.django_db
def test_stored_turns_carry_cue_importance_and_the_conversation_language(eval_file):
    run(eval_file, "--keep")
    rows = {r.content: r for r in CompanionMemory.objects.all()}
    assert {r.ts_config for r in rows.values()} == {"english"}
    assert rows["Ann: I adopted a cat named Miso"].importance > rows["Bo: lovely"].importance


def test_the_second_evaluation_file_is_well_formed():
    from memory.management.commands.memory_eval import EvalFile

    data = EvalFile.model_validate_json(
        (FIXTURES / "conversations" / "memory_eval_long.json").read_bytes()
    )
    assert len(data.conversations) == 4
    assert sum(len(c.turns) for c in data.conversations) >= 400
    questions = [q for c in data.conversations for q in c.questions]
    assert len(questions) >= 100 and all(q.evidence for q in questions)
    assert {q.category for q in questions} == {
        "single-hop",
        "multi-hop",
        "temporal",
        "open-domain",
        "knowledge-update",
    }
