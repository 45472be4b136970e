"""Every engine list page costs the same number of queries for 1 row or many, and none counts
its table."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from companions.models import ChatMessage, ChatSession, CompanionAffinity, CompanionAffinityEvent
from insights.models import CompanionInsights
from memory.models import CompanionMemory
from personas.models import PersonaGenome, PersonaInstance

LISTS = [
    ChatSession,
    ChatMessage,
    CompanionAffinity,
    CompanionAffinityEvent,
    CompanionMemory,
    CompanionInsights,
    PersonaGenome,
    PersonaInstance,
]


def grow(personas: dict, users: int) -> None:
    """``users`` more users, each with a session, two turns, an affinity event, memories,
    insights and a genome of their own."""
    from companions.domain.types import AffinityDeltas
    from companions.services.affinity import affinity_apply_deltas
    from companions.services.sessions import session_start
    from eros.llm.embeddings_local import LocalEmbedder

    genomes = sorted(personas.values(), key=lambda g: g.name)
    embedder = LocalEmbedder()
    now = timezone.now()
    for k in range(users):
        user = uuid.uuid4()
        session = session_start(user_id=user, genome_id=genomes[k % len(genomes)].id).session
        asked = ChatMessage.objects.create(
            session=session, role="user", content=f"hello {k}", turn_status="replied"
        )
        memories = CompanionMemory.objects.bulk_create(
            CompanionMemory(
                session=session,
                user_id=user,
                instance_id=session.instance_id if j % 2 else None,
                content=f"memory {j} of user {k}",
                embedding=vector,
                category="fact",
                source_message_ids=[asked.id],
            )
            for j, vector in enumerate(embedder.embed_documents([f"m{j} u{k}" for j in range(4)]))
        )
        ChatMessage.objects.create(
            session=session,
            role="assistant",
            content=f"hi {k}",
            reply_to_id=asked.id,
            context={"recall": {"profile": [str(memories[0].id)], "relationship": []}},
        )
        affinity_apply_deltas(
            session=session,
            deltas=AffinityDeltas(warmth=0.1),
            event_type="message",
            context={"source": "rules", "user_message_id": str(asked.id)},
            now=now + timedelta(minutes=k),
        )
        CompanionInsights.objects.create(
            user_id=user, insights={"city": "Porto"}, training_level=0.05
        )
        PersonaGenome.objects.create(name=f"Extra {uuid.uuid4().hex[:8]}", system_prompt="Be kind.")


def list_queries(client, model) -> tuple[int, int, list[str]]:
    """(queries, rows shown, SQL) for the model's admin list, after one warm-up request."""
    opts = model._meta
    address = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    client.get(address)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(address)
    assert response.status_code == 200, response.content[:2000]
    rows = len(response.context["cl"].result_list)
    return len(captured), rows, [q["sql"] for q in captured.captured_queries]


@pytest.mark.django_db
def test_list_pages_run_the_same_number_of_queries_however_many_rows(admin_client, personas):
    grow(personas, 1)
    small = {model: list_queries(admin_client, model) for model in LISTS}
    grow(personas, 12)
    for model in LISTS:
        queries, rows, sql = list_queries(admin_client, model)
        before_queries, before_rows, _ = small[model]
        assert rows > before_rows, model
        assert queries == before_queries, (model, "\n".join(sql))
        table = model._meta.db_table
        assert not any(
            s.startswith('SELECT COUNT(*) AS "__count"') and f'FROM "{table}"' in s for s in sql
        ), model
