"""Facts that change, as operators see them: the list's current / superseded column and filter,
and a memory's page showing the chain of values it replaced and that replaced it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from companions.models import ChatSession
from eros.llm.fakes import unit_vector
from memory.models import CompanionMemory
from memory.services import memory_forget
from memory.services.writes import MemoryDraft, memory_upsert_many

LISTING = reverse("admin:memory_companionmemory_changelist")


def change_page(memory) -> str:
    return reverse("admin:memory_companionmemory_change", args=[memory.id])


def moves(user_id, cities, *, start, seed=1) -> list[CompanionMemory]:
    """The user told ``cities`` one after another, a month apart, through the writer: each
    one supersedes the one before. Returns the rows, oldest first, as stored afterwards."""
    session = ChatSession.objects.create(user_id=user_id, instance_id=uuid.uuid4())
    writes = memory_upsert_many(
        [
            MemoryDraft(
                session_id=session.id,
                user_id=user_id,
                instance_id=None,
                content=f"Lives in {city}",
                embedding=unit_vector(seed + i),
                category="fact",
                occurred_at=start + timedelta(days=30 * i),
            )
            for i, city in enumerate(cities)
        ]
    )
    return [CompanionMemory.objects.get(id=w.memory.id) for w in writes]


def html_of(client, address, **params) -> tuple[object, str]:
    response = client.get(address, params)
    assert response.status_code == 200, response.content[:2000]
    return response, response.content.decode()


@pytest.mark.django_db
def test_the_list_says_current_or_superseded_since_when_and_filters_on_it(admin_client, alice):
    start = timezone.now() - timedelta(days=90)
    lisbon, porto, braga = moves(alice, ["Lisbon", "Porto", "Braga"], start=start)
    assert lisbon.valid_to == porto.occurred_at and porto.valid_to == braga.occurred_at

    response, html = html_of(admin_client, LISTING)
    assert "Current / superseded" in html
    rows = {m.id: m for m in response.context["cl"].result_list}
    assert set(rows) == {lisbon.id, porto.id, braga.id}
    table = html[html.index('id="result_list"') :]
    for memory, status in (
        (lisbon, f"superseded ({lisbon.valid_to:%Y-%m-%d})"),
        (porto, f"superseded ({porto.valid_to:%Y-%m-%d})"),
        (braga, "current"),
    ):
        row = table[table.index(f"Lives in {memory.content.split()[-1]}") :]
        row = row[: row.index("</tr>")]
        assert f'<td class="field-status">{status}</td>' in row, row

    current, _ = html_of(admin_client, LISTING, superseded="no")
    assert {m.id for m in current.context["cl"].result_list} == {braga.id}
    superseded, _ = html_of(admin_client, LISTING, superseded="yes")
    assert {m.id for m in superseded.context["cl"].result_list} == {lisbon.id, porto.id}


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_one_chain_or_many(
    admin_client, alice, bob, django_assert_max_num_queries
):
    start = timezone.now() - timedelta(days=90)
    moves(alice, ["Lisbon", "Porto"], start=start)
    admin_client.get(LISTING)  # warm-up: session, permissions, content types
    with CaptureQueriesContext(connection) as small:
        admin_client.get(LISTING, {"superseded": "yes"})
    for k in range(8):
        moves(uuid.uuid4(), ["Lisbon", "Porto", "Braga", "Faro"], start=start, seed=10 + 4 * k)
    moves(bob, ["Lisbon", "Porto"], start=start)

    with django_assert_max_num_queries(len(small)) as many:
        response = admin_client.get(LISTING, {"superseded": "yes"})
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 8 * 3 + 1 + 1
    # No row of the list is loaded one by one for its successor.
    assert not any('WHERE "companion_memories"."id" = ' in q["sql"] for q in many.captured_queries)


@pytest.mark.django_db
def test_a_memory_page_shows_its_slot_and_the_whole_chain_with_links(admin_client, alice):
    start = timezone.now() - timedelta(days=90)
    lisbon, porto, braga = moves(alice, ["Lisbon", "Porto", "Braga"], start=start)

    _, middle = html_of(admin_client, change_page(porto))
    assert "Facts that change" in middle
    slot = middle[middle.index("field-slot") :]
    assert '<div class="readonly">city</div>' in slot[: slot.index("field-status")]
    replaced = middle[middle.index("field-replaced\"") :]
    replaced = replaced[: replaced.index("</ul>")]
    assert f'<a href="{change_page(lisbon)}">Lives in Lisbon</a>' in replaced
    assert f"true until {lisbon.valid_to:%Y-%m-%d %H:%M}" in replaced
    successors = middle[middle.index("field-replaced_by") :]
    successors = successors[: successors.index("</ul>")]
    assert f'<a href="{change_page(braga)}">Lives in Braga</a> (current)' in successors
    assert f"true until {porto.valid_to:%Y-%m-%d %H:%M}" in successors
    assert "superseded (" in middle

    # The oldest value's page follows the chain to the current one.
    _, oldest = html_of(admin_client, change_page(lisbon))
    chain = oldest[oldest.index("field-replaced_by") :]
    chain = chain[: chain.index("</ul>")]
    assert chain.index("Lives in Porto") < chain.index("Lives in Braga")
    assert "(current)" in chain and chain.count("(current)") == 1
    assert "it replaced no memory" in oldest

    # The current value replaced Porto and was replaced by nothing.
    _, newest = html_of(admin_client, change_page(braga))
    assert "current: nothing replaced it" in newest
    assert f'<a href="{change_page(porto)}">Lives in Porto</a>' in newest


@pytest.mark.django_db
def test_a_forgotten_successor_leaves_the_older_value_superseded_with_no_link(admin_client, alice):
    start = timezone.now() - timedelta(days=60)
    lisbon, porto = moves(alice, ["Lisbon", "Porto"], start=start)
    assert memory_forget(user_id=alice, memory_id=porto.id) is True
    _, html = html_of(admin_client, change_page(lisbon))
    successors = html[html.index("field-replaced_by") :]
    successors = successors[: successors.index("</ul>")]
    assert f"true until {lisbon.valid_to:%Y-%m-%d %H:%M}" in successors
    assert "the memory that replaced it is gone" in successors
    assert "Lives in Porto" not in html
