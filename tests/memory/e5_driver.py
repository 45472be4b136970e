"""eros in a process of its own settings, for tests on a database of another embedding size.

The test process is configured once (512 dimensions, the local embedder, its test database);
tests of other sizes and models run ``python -m tests.memory.e5_driver ACTION 'JSON'`` with
their own ``DATABASE_URL``, ``EMBEDDING_DIM`` and ``EMBEDDINGS_*`` in the environment. Each
action goes through eros's own services and selectors and prints one JSON line:

* ``write {"user", "instance", "memories": [text…], "category"?}``: memories embedded by the
  configured embedder and stored with ``memory_upsert_many`` → ``{"ids"}``;
* ``recall {"user", "instance", "query"}``: the query embedded by the configured embedder,
  then ``memory_recall`` → ``{"hits": [{"content", "similarity"}…]}`` best first;
* ``chat {"user", "messages": [text…]}``: turns through the HTTP API (offline chat model,
  post-process in-process) → ``{"replies", "memories": [{"content", "layer", "dims"}…],
  "recalled": [text…]}`` (what the last turn recalled);
* ``vectors {"ids"}``: the stored vectors → ``{"vectors": {id: [float…]}}``;
* ``column {}``: the embedding column and its index → ``{"dim", "index"}``;
* ``reembed_partial {"batches", "size", "dim"}``: a run of ``memory_reembed`` that stops after
  some batches, as a crash would → ``{"stored"}``.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eros.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from eros.llm.providers import get_embedder  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def write(args: dict) -> dict:
    from companions.models import ChatSession
    from memory.services import MemoryDraft, memory_upsert_many

    user, instance = uuid.UUID(args["user"]), uuid.UUID(args["instance"])
    session, _ = ChatSession.objects.get_or_create(
        user_id=user, instance_id=instance, defaults={"metadata": {}}
    )
    texts = args["memories"]
    vectors = get_embedder().embed_documents(texts)
    writes = memory_upsert_many(
        [
            MemoryDraft(
                session_id=session.id,
                user_id=user,
                instance_id=instance,
                content=text,
                embedding=vector,
                category=args.get("category"),
            )
            for text, vector in zip(texts, vectors, strict=True)
        ]
    )
    return {"ids": [str(w.memory.id) for w in writes], "created": [w.created for w in writes]}


def recall(args: dict) -> dict:
    from memory.selectors import memory_recall

    query = args["query"]
    result = memory_recall(
        user_id=uuid.UUID(args["user"]),
        instance_id=uuid.UUID(args["instance"]),
        query_vector=get_embedder().embed_query(query),
        query_text=query,
        now=timezone.now(),
        profile=False,
        k_relationship=args.get("k", 20),
        raw=True,  # rows written without a category: the embedding is what is compared
    )
    hits = [{"content": h.content, "similarity": h.similarity} for h in result.relationship]
    return {"hits": hits}


def chat(args: dict) -> dict:
    from django_q.conf import Conf
    from rest_framework.test import APIClient

    from companions.models import ChatMessage
    from eros.auth import mint_token
    from memory.models import CompanionMemory
    from personas.models import PersonaGenome
    from personas.services import personas_seed

    Conf.SYNC = True  # post-process in this process, as the test suite runs it
    user = uuid.UUID(args["user"])
    personas_seed(directory=FIXTURES / "personas")
    genome = PersonaGenome.objects.order_by("name").first()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {mint_token(user)}")
    started = client.post("/comp/chat/start", {"genome_id": str(genome.id)}, format="json")
    assert started.status_code == 200, started.content
    session_id = started.json()["session_id"]
    replies = []
    for text in args["messages"]:
        response = client.post(f"/comp/chat/{session_id}/message", {"message": text}, format="json")
        assert response.status_code == 200, response.content
        replies.append(response.json()["reply"])
    last = ChatMessage.objects.filter(session_id=session_id, role="assistant").latest("sent_at")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT content, instance_id IS NULL, vector_dims(embedding) FROM companion_memories "
            "WHERE user_id = %s ORDER BY created_at, id",
            [user],
        )
        memories = [
            {"content": c, "layer": "profile" if p else "relationship", "dims": d}
            for c, p, d in cursor.fetchall()
        ]
    recall_ids = (last.context or {}).get("recall", {})
    recalled = list(
        CompanionMemory.objects.filter(
            id__in=recall_ids.get("profile", []) + recall_ids.get("relationship", [])
        ).values_list("content", flat=True)
    )
    return {"replies": replies, "memories": memories, "recalled": recalled}


def vectors(args: dict) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id::text, embedding::text FROM companion_memories WHERE id = ANY(%s::uuid[])",
            [args["ids"]],
        )
        return {"vectors": {i: json.loads(v) for i, v in cursor.fetchall()}}


def column(args: dict) -> dict:
    from memory.embedding_dim import embedding_column_dim

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(i.indexrelid), i.indisvalid FROM pg_index i "
            "WHERE i.indexrelid = to_regclass('idx_memories_embedding')"
        )
        index = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('companion_memories') "
            "AND attname = 'embedding_next' AND NOT attisdropped"
        )
        shadow = cursor.fetchone()[0] > 0
    return {
        "dim": embedding_column_dim(),
        "index": index[0] if index else None,
        "index_valid": bool(index and index[1]),
        "shadow": shadow,
    }


def reembed_partial(args: dict) -> dict:
    from memory.services.reembed import reembed_batch, reembed_start, reembed_target

    dim = args["dim"]
    embedder = get_embedder(dim=dim)
    reembed_start(dim=dim, target=reembed_target(embedder, dim))
    after, stored = None, 0
    for _ in range(args["batches"]):
        step = reembed_batch(embedder=embedder, dim=dim, after=after, size=args["size"])
        after, stored = step.last_id, stored + step.stored
    return {"stored": stored}


ACTIONS = {f.__name__: f for f in (write, recall, chat, vectors, column, reembed_partial)}

if __name__ == "__main__":
    action, payload = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    print(json.dumps(ACTIONS[action](payload)))
