"""Operators' admin pages, loaded as a staff user over a 50-turn session and 1,000 memories."""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from companions.models import ChatMessage, ChatSession, CompanionAffinity, CompanionAffinityEvent
from insights.models import CompanionInsights
from memory.models import CompanionMemory
from personas.models import PersonaGenome, PersonaInstance
from tests.admin.conftest import GHOSTED, TURNS, user_line

ENGINE_APPS = {"companions", "memory", "insights", "personas"}


def url(model, view: str, *args) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def page(client, address: str, **params):
    response = client.get(address, params)
    assert response.status_code == 200, response.content[:2000]
    return response, response.content.decode()


def form_of(html: str, form_id: str) -> str:
    """The change form's markup, without the CSRF token input every admin form carries."""
    start = html.index(f'id="{form_id}"')
    form = html[start : html.index("</form>", start)]
    return re.sub(r'<input type="hidden" name="csrfmiddlewaretoken"[^>]*>', "", form)


@pytest.fixture
def insights(alice):
    return CompanionInsights.objects.create(
        user_id=alice,
        insights={
            "city": "Glasgow",
            "occupation": "pharmacist",
            "interests": ["kayaking", "moss"],
            "life_rhythm": "",
            "favourite_colour": "teal",
        },
        training_level=0.2,
    )


@pytest.mark.django_db
def test_every_engine_admin_list_and_detail_page_loads_for_staff(
    admin_client, relationship, insights
):
    models = [m for m in admin.site._registry if m._meta.app_label in ENGINE_APPS]
    assert {m.__name__ for m in models} == {
        "ChatSession",
        "ChatMessage",
        "CompanionAffinity",
        "CompanionAffinityEvent",
        "CompanionMemory",
        "CompanionInsights",
        "PersonaGenome",
        "PersonaInstance",
    }
    for model in models:
        page(admin_client, url(model, "changelist"))
        pk = model._default_manager.values_list("pk", flat=True).first()
        assert pk is not None, model
        page(admin_client, url(model, "change", pk))


# --- sessions ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_session_list_shows_user_persona_label_activity_lead_score_and_message_count(
    admin_client, relationship
):
    session = relationship.session
    total = ChatMessage.objects.filter(session=session).count()
    _, html = page(admin_client, url(ChatSession, "changelist"))
    body = html[html.index("<tbody>", html.index('id="result_list"')) :]
    row = body[: body.index("</tr>")]
    assert str(session.id)[:8] in row
    assert str(session.user_id) in row  # in the link's title
    assert '<td class="field-persona">Noor</td>' in row
    assert f'<td class="field-message_count">{total}</td>' in row
    assert f'<td class="field-label">{relationship.affinity.relationship_label}</td>' in row
    assert 'class="field-last_active_at' in row and '<td class="field-lead_score">0.0<' in row


@pytest.mark.django_db
def test_session_list_filters_by_user_and_persona(admin_client, relationship, bob, personas):
    from companions.services.sessions import session_start

    bobs = session_start(user_id=bob, genome_id=personas["Juno"].id).session
    listing = url(ChatSession, "changelist")
    response, _ = page(admin_client, listing, user=str(bob))
    assert [s.id for s in response.context["cl"].result_list] == [bobs.id]
    response, _ = page(admin_client, listing, persona=str(personas["Noor"].id))
    assert [s.id for s in response.context["cl"].result_list] == [relationship.session.id]
    response, html = page(admin_client, listing, user="not-a-uuid")
    assert list(response.context["cl"].result_list) == [] and "not a UUID" in html
    response, _ = page(admin_client, listing, persona="not-a-uuid")
    assert list(response.context["cl"].result_list) == []


@pytest.mark.django_db
def test_session_page_shows_the_whole_transcript_with_ghosted_turns_errors_and_context(
    admin_client, relationship
):
    session = relationship.session
    _, html = page(admin_client, url(ChatSession, "change", session.id))
    transcript = html[html.index('id="transcript"') :]

    positions = [transcript.index(user_line(i).replace("'", "&#x27;")) for i in range(TURNS)]
    assert positions == sorted(positions), "turns are in chronological order"
    assert transcript.count('class="eros-msg eros-role-user') == TURNS
    assert transcript.count("eros-msg eros-role-assistant") == TURNS - len(GHOSTED) - 1
    # Ghosted turns say so, with the rule that decided them.
    assert transcript.count("eros-msg eros-role-user eros-turn-ghosted") == len(GHOSTED)
    assert transcript.count("No reply: ghosted by rule <b>above_threshold</b>") == len(GHOSTED)
    # The failed turn and its system error row are visible.
    assert "eros-msg eros-role-user eros-turn-failed" in transcript
    assert "eros-msg eros-role-system_error" in transcript
    assert relationship.system_error.content in transcript
    assert "eros-msg eros-role-gift_user" in transcript
    # Each assistant turn: plan, ghost rule, and what it recalled (text linked), context folded.
    assert "plan <b>reply</b> · style <b>warm</b>" in transcript
    assert "ghost rule <b>below_threshold</b>" in transcript
    memory = relationship.memories[7]
    assert f'<a href="{url(CompanionMemory, "change", memory.id)}">{memory.content}</a>' in (
        transcript
    )
    assert transcript.count('<details class="eros-json">') >= TURNS - len(GHOSTED) - 1
    assert "&quot;ghost_rule&quot;: &quot;below_threshold&quot;" in transcript
    # Links to the session's affinity and memories.
    assert url(CompanionAffinity, "change", relationship.affinity.id) in html
    assert f"{url(CompanionMemory, 'changelist')}?session={session.id}" in html


@pytest.mark.django_db
def test_session_transcript_shows_the_newest_messages_and_links_to_the_rest(
    admin_client, relationship, monkeypatch
):
    import companions.admin

    monkeypatch.setattr(companions.admin, "TRANSCRIPT_LIMIT", 10)
    _, html = page(admin_client, url(ChatSession, "change", relationship.session.id))
    assert "Showing the newest 10 messages" in html
    assert user_line(TURNS - 1) in html and user_line(0) not in html
    assert f"{url(ChatMessage, 'changelist')}?session={relationship.session.id}" in html


# --- affinity ----------------------------------------------------------------------------------


@pytest.fixture
def more_affinities(personas):
    """Three other relationships with distinct warmth and labels."""
    rows = []
    for warmth, label in [(0.9, "romantic"), (-0.4, "frenemy"), (0.1, None)]:
        session = ChatSession.objects.create(user_id=uuid.uuid4(), instance_id=uuid.uuid4())
        rows.append(
            CompanionAffinity.objects.create(
                session=session,
                user_id=session.user_id,
                instance_id=session.instance_id,
                warmth=warmth,
                relationship_label=label,
            )
        )
    return rows


@pytest.mark.django_db
def test_affinity_list_shows_six_sortable_axes_with_label_and_ghost_stats(
    admin_client, relationship, more_affinities
):
    listing = url(CompanionAffinity, "changelist")
    _, html = page(admin_client, listing)
    for axis in ("warmth", "trust", "intrigue", "intimacy", "patience", "tension"):
        assert f"sortable column-axis_{axis}" in html
    for column in ("label", "ghost_streak", "total_ghosts", "last_ghost_at"):
        assert f"column-{column}" in html
    row = relationship.affinity
    assert f'<td class="field-axis_trust">{row.trust:.3f}</td>' in html
    assert f'<td class="field-total_ghosts">{len(GHOSTED)}</td>' in html

    warmth_column = admin.site._registry[CompanionAffinity].list_display.index("axis_warmth")
    response, _ = page(admin_client, listing, o=str(warmth_column))
    warmths = [a.warmth for a in response.context["cl"].result_list]
    assert warmths == sorted(warmths) and len(warmths) == 4
    response, _ = page(admin_client, listing, o=f"-{warmth_column}")
    assert [a.warmth for a in response.context["cl"].result_list] == sorted(warmths, reverse=True)


@pytest.mark.django_db
def test_affinity_list_filters_by_label(admin_client, relationship, more_affinities):
    listing = url(CompanionAffinity, "changelist")
    response, _ = page(admin_client, listing, label="frenemy")
    assert [a.id for a in response.context["cl"].result_list] == [more_affinities[1].id]
    response, _ = page(admin_client, listing, label="none")
    assert [a.id for a in response.context["cl"].result_list] == [more_affinities[2].id]


@pytest.mark.django_db
def test_affinity_page_draws_the_vector_and_each_axis_history_with_event_sources(
    admin_client, relationship
):
    row = relationship.affinity
    _, html = page(admin_client, url(CompanionAffinity, "change", row.id))
    pictures = html[html.index('id="affinity-pictures"') : html.index('id="affinity-events"')]
    assert pictures.count('<svg xmlns="http://www.w3.org/2000/svg" class="eros-chart"') == 2
    assert pictures.count("<polyline") == 6  # one history line per axis
    assert f"Affinity vector now: {row.relationship_label}" in pictures
    assert "<script" not in pictures and "http://" not in pictures.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert "errornote" not in pictures  # the replay ends on the stored vector

    events = html[html.index('id="affinity-events"') :]
    for source in ("rules", "llm", "gift", "ghost"):
        assert f">{source}</span>" in events
    assert "Sam opened up about" in events  # the evaluator's reason
    assert "roses" in events and "ghost rule: above_threshold" in events
    assert '<td class="eros-num eros-up">+0.120</td>' in events
    assert '<td class="eros-num eros-down">-0.050</td>' in events  # a ghost's patience
    assert f"{url(CompanionAffinityEvent, 'changelist')}?session={row.session_id}" in events


@pytest.mark.django_db
def test_affinity_page_warns_when_the_row_was_written_without_an_event(admin_client, relationship):
    CompanionAffinity.objects.filter(id=relationship.affinity.id).update(trust=0.01)
    _, html = page(admin_client, url(CompanionAffinity, "change", relationship.affinity.id))
    assert "the row was written without an event" in html


@pytest.mark.django_db
def test_no_admin_form_can_write_the_affinity_around_its_service(admin_client, relationship):
    row = relationship.affinity
    before = CompanionAffinity.objects.values().get(id=row.id)
    response = admin_client.post(
        url(CompanionAffinity, "change", row.id), {"warmth": "5", "tension": "-3"}
    )
    assert response.status_code == 403
    assert admin_client.get(url(CompanionAffinity, "add")).status_code == 403
    assert admin_client.post(url(CompanionAffinity, "delete", row.id)).status_code == 403
    assert CompanionAffinity.objects.values().get(id=row.id) == before
    _, html = page(admin_client, url(CompanionAffinity, "change", row.id))
    form = form_of(html, "companionaffinity_form")
    assert "<input" not in form and 'type="submit"' not in form


@pytest.mark.django_db
def test_engine_tables_are_read_only_in_admin(admin_client, relationship, insights):
    for model in (ChatSession, ChatMessage, CompanionAffinityEvent, CompanionInsights):
        assert admin_client.get(url(model, "add")).status_code == 403, model
        pk = model._default_manager.values_list("pk", flat=True).first()
        assert admin_client.post(url(model, "change", pk), {}).status_code == 403, model
        assert admin_client.post(url(model, "delete", pk), {"post": "yes"}).status_code == 403
    instance = PersonaInstance.objects.first()
    assert admin_client.post(url(PersonaInstance, "change", instance.pk), {}).status_code == 403
    assert ChatSession.objects.filter(id=relationship.session.id).exists()


# --- memories ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_memory_list_pages_through_a_thousand_memories_without_counting_or_vectors(
    admin_client, relationship
):
    listing = url(CompanionMemory, "changelist")
    with CaptureQueriesContext(connection) as queries:
        response, html = page(admin_client, listing)
    sql = [q["sql"] for q in queries.captured_queries]
    assert not any(
        "COUNT(*)" in s and "companion_memories" in s.split("FROM", 1)[-1][:40] for s in sql
    )
    assert not any('"embedding"' in s for s in sql)
    assert len(response.context["cl"].result_list) == 100
    assert "next &rsaquo;" in html and "page 1" in html
    assert "1000" not in html.split('id="result_list"')[0]  # no total anywhere above the list

    seen = set()
    for number in range(1, 11):
        response, html = page(admin_client, listing, p=str(number))
        seen |= {m.id for m in response.context["cl"].result_list}
    assert len(seen) == 1000 and "next &rsaquo;" not in html
    assert admin_client.get(listing, {"p": "11"}).status_code == 302  # past the end


@pytest.mark.django_db
def test_memory_list_filters_by_user_layer_category_persona_instance_deleted_and_session(
    admin_client, relationship, bob, personas
):
    listing = url(CompanionMemory, "changelist")
    session = relationship.session

    def ids(**params) -> set:
        response, _ = page(admin_client, listing, **params)
        rows = list(response.context["cl"].result_list)
        assert len(rows) < 100 or params.get("p"), "filter result must fit a page here"
        return {m.id for m in rows}

    def db(**lookup) -> set:
        return set(CompanionMemory.objects.filter(**lookup).values_list("id", flat=True))

    assert ids(user=str(bob)) == set()
    assert ids(layer="profile", category="fact", deleted="no") == db(
        instance_id__isnull=True, category="fact", deleted_at__isnull=True
    )
    assert ids(layer="relationship", category="raw") == db(
        instance_id__isnull=False, category__isnull=True
    )
    assert ids(instance=str(session.instance_id), category="emotion") == db(
        instance_id=session.instance_id, category="emotion"
    )
    assert ids(persona=str(personas["Noor"].id), category="preference") == db(
        instance_id__isnull=False, category="preference"
    )
    assert ids(persona=str(personas["Juno"].id)) == set()
    assert ids(deleted="yes") == db(deleted_at__isnull=False) != set()
    assert ids(session=str(uuid.uuid4())) == set()


@pytest.mark.django_db
def test_memory_page_links_its_source_messages_and_lists_similar_memories_without_the_vector(
    admin_client, relationship
):
    memory = relationship.dog_memories[0]
    source = ChatMessage.objects.get(id=memory.source_message_ids[0])
    with CaptureQueriesContext(connection) as queries:
        _, html = page(admin_client, url(CompanionMemory, "change", memory.id))
    assert f'href="{url(ChatMessage, "change", source.id)}"' in html
    assert source.content.replace("'", "&#x27;") in html
    similar = html[html.index('class="eros-similar"') :]
    other = relationship.dog_memories[1]
    body = similar[similar.index("<tbody>") :]
    first_row = body[: body.index("</tr>")]
    assert other.content.replace("'", "&#x27;") in first_row
    assert similar.count("<tr>") == 11  # header + 10 neighbours
    # The vector never leaves the database: it is only compared there.
    for sql in (q["sql"] for q in queries.captured_queries):
        for hit in re.finditer(r'"embedding"', sql):
            around = sql[hit.start() - 40 : hit.end() + 5]
            assert "<=>" in around, sql
    assert "embedding" not in html.lower()


@pytest.mark.django_db
def test_find_similar_action_shows_the_nearest_memories_of_the_same_user(
    admin_client, relationship
):
    dog, other_dog = relationship.dog_memories
    response = admin_client.post(
        url(CompanionMemory, "changelist"),
        {"action": "find_similar", "_selected_action": [str(dog.id)], "index": "0"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Similar memories" in html and dog.content in html
    rows = re.findall(r'<td class="eros-num">([0-9.\-]+)</td><td><a href="[^"]+">([^<]+)</a>', html)
    assert rows[0][1] == other_dog.content.replace("'", "&#x27;")
    similarities = [float(s) for s, _ in rows]
    assert similarities == sorted(similarities, reverse=True) and 0 < similarities[0] <= 1


@pytest.mark.django_db
def test_soft_delete_and_restore_actions_go_through_the_memory_services(admin_client, relationship):
    chosen = [m.id for m in relationship.memories[1:4]]
    listing = url(CompanionMemory, "changelist")
    post = {"_selected_action": [str(i) for i in chosen], "index": "0"}
    response = admin_client.post(listing, {**post, "action": "soft_delete"})
    assert response.status_code == 302
    deleted = dict(CompanionMemory.objects.filter(id__in=chosen).values_list("id", "deleted_at"))
    assert all(deleted.values())
    admin_client.post(listing, {**post, "action": "soft_delete"})  # again: keeps the first time
    again = dict(CompanionMemory.objects.filter(id__in=chosen).values_list("id", "deleted_at"))
    assert again == deleted

    response = admin_client.post(listing, {**post, "action": "restore"}, follow=True)
    assert "3 memories restored" in response.content.decode()
    assert not CompanionMemory.objects.filter(id__in=chosen, deleted_at__isnull=False).exists()


@pytest.mark.django_db
def test_staff_who_may_only_view_memories_cannot_soft_delete_them(client, relationship):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_companionmemory"))
    client.force_login(viewer)
    listing = url(CompanionMemory, "changelist")
    _, html = page(client, listing)
    assert 'value="find_similar"' in html and 'value="soft_delete"' not in html
    memory = relationship.memories[5]
    client.post(
        listing, {"action": "soft_delete", "_selected_action": [str(memory.id)], "index": "0"}
    )
    assert CompanionMemory.objects.get(id=memory.id).deleted_at is None


# --- insights ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_insights_list_shows_training_level_and_page_renders_the_profile_as_a_table(
    admin_client, insights
):
    _, html = page(admin_client, url(CompanionInsights, "changelist"))
    assert '<td class="field-training_level_column">0.200</td>' in html
    assert '<td class="field-populated_fields">3 / 9</td>' in html

    _, html = page(admin_client, url(CompanionInsights, "change", insights.user_id))
    table = html[html.index('class="eros-profile"') :]
    rows = re.findall(
        r'<tr class="eros-(populated|missing)"><td>([^<]+)</td>.*?>([0-9.]+)</td>', table
    )
    assert [(status, label) for status, label, _ in rows][:4] == [
        ("populated", "City"),
        ("populated", "Occupation"),
        ("missing", "MBTI (guess)"),
        ("missing", "Love values"),
    ]
    assert len(rows) == 9
    assert sum(float(w) for _, _, w in rows) == pytest.approx(1.0)
    assert "kayaking, moss" in table
    assert ">Life rhythm</td>" in table and "missing" in table  # blank string is missing
    assert "training level (sum of populated weights)" in table and ">0.200<" in table
    assert "favourite_colour" in html  # stored keys outside the schema are named


@pytest.mark.django_db
def test_insights_page_flags_a_stored_training_level_that_disagrees_with_the_profile(
    admin_client, insights
):
    CompanionInsights.objects.filter(user_id=insights.user_id).update(training_level=0.9)
    _, html = page(admin_client, url(CompanionInsights, "change", insights.user_id))
    assert "Stored training level 0.900 differs from the profile (0.200)" in html


# --- personas ----------------------------------------------------------------------------------


def genome_post(genome: PersonaGenome, **changes) -> dict:
    import json

    data = {
        "name": genome.name,
        "system_prompt": genome.system_prompt,
        "tip_personality": genome.tip_personality or "",
        "avatar_url": genome.avatar_url or "",
        "art_metadata": json.dumps(genome.art_metadata),
        "is_active": "on" if genome.is_active else "",
    }
    data.update(changes)
    return data


@pytest.mark.django_db
def test_genome_edits_are_saved_trimmed(admin_client, personas):
    noor = personas["Noor"]
    response = admin_client.post(
        url(PersonaGenome, "change", noor.id),
        genome_post(
            noor,
            system_prompt="  You are Noor.  ",
            avatar_url="   ",
            art_metadata='{"age": 31, "topics": ["moss"]}',
        ),
    )
    assert response.status_code == 302, response.content[:3000]
    noor.refresh_from_db()
    assert noor.system_prompt == "You are Noor."
    assert noor.avatar_url is None
    assert noor.art_metadata == {"age": 31, "topics": ["moss"]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"art_metadata": '{"age": "old"}'}, "art_metadata.age: must be an integer"),
        ({"art_metadata": '{"topics": "moss"}'}, "art_metadata.topics: must be an array"),
        ({"art_metadata": '{"model": "  "}'}, "art_metadata.model: must be a non-blank string"),
        ({"art_metadata": "[1, 2]"}, "art_metadata: must be a table"),
        ({"art_metadata": '{"quirks": ["\\ud800"]}'}, "art_metadata.quirks[0]: text must be"),
        ({"art_metadata": '{"\\udfff": 1}'}, "keys must be valid Unicode"),
        ({"art_metadata": '{"n": 1' + "0" * 400 + "}"}, "art_metadata.n: numbers must be"),
        ({"art_metadata": '{"x": ' + "[" * 1000 + "]" * 1000 + "}"}, "Nested more than 32 levels"),
        ({"name": "Juno"}, "Another genome already has this name."),
        ({"system_prompt": "   "}, "This field is required."),
    ],
)
def test_genome_edits_that_break_a_persona_rule_are_refused(admin_client, personas, changes, error):
    noor = personas["Noor"]
    before = PersonaGenome.objects.values().get(id=noor.id)
    response = admin_client.post(
        url(PersonaGenome, "change", noor.id), genome_post(noor, **changes)
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert PersonaGenome.objects.values().get(id=noor.id) == before


@pytest.mark.django_db
def test_genomes_cannot_be_deleted_and_instances_are_read_only(admin_client, alice_session):
    genome = PersonaGenome.objects.first()
    assert (
        admin_client.post(url(PersonaGenome, "delete", genome.id), {"post": "yes"}).status_code
        == 403
    )
    instance = PersonaInstance.objects.get(id=alice_session.instance_id)
    _, html = page(admin_client, url(PersonaInstance, "change", instance.id))
    form = form_of(html, "personainstance_form")
    assert instance.genome.name in form and "<input" not in form and 'type="submit"' not in form
    assert admin_client.get(url(PersonaInstance, "add")).status_code == 403


@pytest.mark.django_db
def test_a_user_authored_memory_shows_in_admin_without_a_session(admin_client, alice):
    memory = CompanionMemory.objects.create(
        user_id=alice, content="Plays the cello", embedding=[1.0] + [0.0] * 511, pinned=True
    )
    _, listing = page(admin_client, url(CompanionMemory, "changelist"))
    assert "Plays the cello" in listing and "written by the user" in listing
    _, detail = page(admin_client, url(CompanionMemory, "change", memory.id))
    assert "Plays the cello" in detail and "written by the user" in detail


@pytest.mark.django_db
def test_restore_cannot_bring_back_a_memory_the_user_forgot(admin_client, client_for, relationship):
    memory = relationship.memories[0]
    listing = url(CompanionMemory, "changelist")
    post = {"_selected_action": [str(memory.id)], "index": "0"}
    admin_client.post(listing, {**post, "action": "soft_delete"})
    forgotten = client_for(memory.user_id).delete(
        f"/comp/user/{memory.user_id}/memories/{memory.id}"
    )
    assert forgotten.status_code == 200
    response = admin_client.post(listing, {**post, "action": "restore"}, follow=True)
    assert response.status_code == 200
    assert not CompanionMemory.objects.filter(id=memory.id).exists()
