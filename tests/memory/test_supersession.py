"""Facts that change supersede, not duplicate (DESIGN §7): the offline path's slot rules, the
model's add / update / none, event-time order, concerns, pets, the profile's agreement, and
what users see and do through ``/comp/user/{user_id}/memories``."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from companions.models import ChatMessage, ChatSession
from companions.services.post_process import insight_update_turn
from eros.llm.base import TASK_INSIGHT, ChatRequest
from eros.llm.fakes import FakeChatModel, FakeEmbedder, unit_vector
from eros.llm.offline import OfflineChatModel
from insights.models import CompanionInsights
from memory.models import CompanionMemory
from memory.selectors import memory_recall
from memory.services import memory_reconcile_slots
from memory.services.writes import MemoryDraft, memory_upsert_many
from tests.api import assert_error
from tests.memory.drafts import draft
from tests.memory.test_writes import _replied_turn
from tests.prompts import insight_step


def recalled(session, question: str, embedder, **options) -> list[str]:
    """Contents recalled for ``question`` in ``session`` (both layers), best first per list."""
    recall = memory_recall(
        user_id=session.user_id,
        instance_id=session.instance_id,
        query_vector=embedder.embed_query(question),
        query_text=question,
        now=timezone.now(),
        **options,
    )
    return [hit.content for hit in recall.all_hits]


def between(a: int, b: int, cosine: float) -> list[float]:
    """A unit vector with cosine ``cosine`` to ``unit_vector(a)`` (the rest along ``b``)."""
    vector = [0.0] * len(unit_vector(0))
    vector[a] = cosine
    vector[b] = math.sqrt(1.0 - cosine * cosine)
    return vector


# --- the offline path: slot rules ----------------------------------------------------------


@pytest.mark.django_db
def test_a_move_told_in_a_later_turn_supersedes_the_old_city_offline(session, alice):
    embedder = FakeEmbedder()
    start = timezone.now() - timedelta(days=40)
    first, _ = _replied_turn(session, "I live in Lisbon.", "Lovely city!", at=start)
    second, second_reply = _replied_turn(
        session, "We moved to Porto last month!", "Big news!", at=start + timedelta(days=30)
    )
    for message in (first, second):
        insight_update_turn(
            user_message_id=message.id, chat_model=OfflineChatModel(), embedder=embedder
        )

    lisbon = CompanionMemory.objects.get(content="Lives in Lisbon")
    porto = CompanionMemory.objects.get(content="Lives in Porto")
    assert (lisbon.slot, porto.slot) == ("city", "city")
    assert lisbon.valid_to == second.sent_at and lisbon.superseded_by_id == porto.id
    assert porto.valid_to is None and porto.superseded_by_id is None
    assert porto.source_message_ids == [second.id, second_reply.id]
    # The old row keeps its text and event time for the record.
    assert lisbon.occurred_at == first.sent_at and lisbon.deleted_at is None

    for question in ("Where do I live?", "Lisbon", "Do I still live in Lisbon?"):
        assert "Lives in Lisbon" not in recalled(session, question, embedder), question
    assert "Lives in Porto" in recalled(session, "Where do I live?", embedder)
    assert "Lives in Lisbon" in recalled(session, "Lisbon", embedder, superseded=True)
    assert CompanionInsights.objects.get(user_id=alice).insights["city"] == "Porto"


# --- the model path: add / update / none from the candidates it was shown ------------------

FACTS = json.dumps({"facts": ["works as a teacher"], "moment": ""})


def scripted(structure: dict) -> FakeChatModel:
    """A model answering the facts step with :data:`FACTS` and the structure step with
    ``structure``."""

    def answer(request: ChatRequest) -> str:
        assert request.task == TASK_INSIGHT
        return FACTS if insight_step(request) == "facts" else json.dumps(structure)

    return FakeChatModel(answer)


def structure_prompt(model: FakeChatModel) -> str:
    (prompt,) = [r.messages[0].content for r in model.requests if insight_step(r) == "structure"]
    return prompt


@pytest.fixture
def at_the_bank(session):
    """A current memory the slot rules cannot place ("Is employed at the bank": no slot), close
    enough to the new fact (cosine 0.6) to be shown to the model, too far to be merged."""
    (write,) = memory_upsert_many(
        [
            MemoryDraft(
                session_id=session.id,
                user_id=session.user_id,
                instance_id=None,
                content="Is employed at the bank",
                embedding=between(1, 2, 0.6),
                category="fact",
                occurred_at=timezone.now() - timedelta(days=200),
            )
        ]
    )
    assert write.memory.slot is None
    return write.memory


def teach(session, model, *, at=None) -> ChatMessage:
    message, _ = _replied_turn(
        session, "I'm a teacher now, I quit the bank.", "Good for you!", at=at or timezone.now()
    )
    insight_update_turn(
        user_message_id=message.id,
        chat_model=model,
        embedder=FakeEmbedder({"Works as a teacher": 1}),
    )
    return message


@pytest.mark.django_db
def test_the_models_update_supersedes_the_memory_it_names(session, alice, at_the_bank):
    model = scripted(
        {
            "profile": {"occupation": "teacher"},
            "memories": [{"fact": 1, "action": "update", "id": "m1"}],
        }
    )
    message = teach(session, model)

    assert "m1: Is employed at the bank" in structure_prompt(model)
    teacher = CompanionMemory.objects.get(content="Works as a teacher")
    bank = CompanionMemory.objects.get(id=at_the_bank.id)
    assert bank.superseded_by_id == teacher.id and bank.valid_to == message.sent_at
    assert bank.content == "Is employed at the bank"
    assert teacher.valid_to is None and teacher.slot == "occupation"
    assert CompanionInsights.objects.get(user_id=alice).insights["occupation"] == "teacher"
    assert recalled(session, "What is my job?", FakeEmbedder({"Works as a teacher": 1})) == [
        "Works as a teacher"
    ]


@pytest.mark.django_db
def test_the_models_none_writes_no_memory(session, at_the_bank):
    model = scripted({"profile": {}, "memories": [{"fact": 1, "action": "none"}]})
    message = teach(session, model)

    assert "m1: Is employed at the bank" in structure_prompt(model)
    assert list(CompanionMemory.objects.values_list("id", "valid_to")) == [(at_the_bank.id, None)]
    message.refresh_from_db()
    assert message.extracted_facts == {}  # the turn was read: it is not read again


@pytest.mark.django_db
def test_an_update_naming_an_id_that_was_not_shown_is_an_add(session, at_the_bank):
    model = scripted({"profile": {}, "memories": [{"fact": 1, "action": "update", "id": "m7"}]})
    teach(session, model)

    current = CompanionMemory.objects.filter(valid_to__isnull=True)
    assert sorted(current.values_list("content", flat=True)) == [
        "Is employed at the bank",
        "Works as a teacher",
    ]
    assert not CompanionMemory.objects.filter(superseded_by__isnull=False).exists()


@pytest.mark.django_db
def test_an_answer_without_memories_leaves_it_to_the_slot_rules(session, alice):
    (nurse,) = memory_upsert_many(
        [draft(session, "Works as a nurse", at=timezone.now() - timedelta(days=90), seed=40)]
    )
    model = scripted({"profile": {"occupation": "teacher"}})
    message = teach(session, model)

    assert "m1: Works as a nurse" in structure_prompt(model)  # same slot: shown
    teacher = CompanionMemory.objects.get(content="Works as a teacher")
    nurse = CompanionMemory.objects.get(id=nurse.memory.id)
    assert nurse.superseded_by_id == teacher.id and nurse.valid_to == message.sent_at
    assert list(CompanionMemory.objects.filter(valid_to__isnull=True)) == [teacher]


# --- event time, concerns, pets ------------------------------------------------------------


@pytest.mark.django_db
def test_a_value_told_out_of_order_is_stored_already_superseded(session):
    now = timezone.now()
    (porto,) = memory_upsert_many([draft(session, "Lives in Porto", at=now, seed=1)])
    (lisbon,) = memory_upsert_many(
        [draft(session, "Lives in Lisbon", at=now - timedelta(days=60), seed=2)]
    )

    assert lisbon.created is True
    assert [row.id for row in lisbon.superseded] == [lisbon.memory.id]
    rows = {m.content: m for m in CompanionMemory.objects.all()}
    assert rows["Lives in Lisbon"].superseded_by_id == porto.memory.id
    assert rows["Lives in Lisbon"].valid_to == now  # true until the newer value began
    assert rows["Lives in Porto"].valid_to is None
    assert "Lives in Lisbon" not in recalled(session, "Lisbon", FakeEmbedder())


@pytest.mark.django_db
def test_news_of_a_worry_supersedes_the_worry(session):
    start = timezone.now() - timedelta(days=10)
    memory_upsert_many(
        [
            draft(
                session,
                "Feels worried about their mum's surgery next week",
                at=start,
                seed=1,
                category="emotion",
            ),
            draft(session, "Likes green tea", at=start, seed=3, category="preference"),
        ]
    )
    (news,) = memory_upsert_many(
        [
            draft(
                session,
                "Their mum's surgery went well",
                at=start + timedelta(days=8),
                seed=2,
                category="event",
            )
        ]
    )

    worry = CompanionMemory.objects.get(content__startswith="Feels worried")
    assert worry.slot == news.memory.slot == "concern:surgery"
    assert worry.superseded_by_id == news.memory.id
    assert worry.valid_to == start + timedelta(days=8)
    assert CompanionMemory.objects.get(content="Likes green tea").valid_to is None
    assert "Feels worried about their mum's surgery next week" not in recalled(
        session, "How is mum's surgery?", FakeEmbedder()
    )


@pytest.mark.django_db
def test_a_new_cats_name_supersedes_the_kittens_but_not_the_dogs(session):
    start = timezone.now() - timedelta(days=100)
    memory_upsert_many(
        [
            draft(session, "Has a kitten called Pepper", at=start, seed=1),
            draft(session, "Has a dog called Biscuit", at=start, seed=2),
        ]
    )
    (miso,) = memory_upsert_many(
        [draft(session, "Has a cat called Miso", at=start + timedelta(days=90), seed=3)]
    )

    rows = {m.content: m for m in CompanionMemory.objects.all()}
    assert rows["Has a kitten called Pepper"].slot == "pet:cat" == miso.memory.slot
    assert rows["Has a kitten called Pepper"].superseded_by_id == miso.memory.id
    assert rows["Has a dog called Biscuit"].slot == "pet:dog"
    assert rows["Has a dog called Biscuit"].valid_to is None


# --- the profile and the memories agree ----------------------------------------------------


def _as_migrated(session, content, *, at, seed, slot):
    """A row as the supersession migration left it: slot filled, nothing superseded."""
    return CompanionMemory.objects.create(
        session=session,
        user_id=session.user_id,
        content=content,
        embedding=unit_vector(seed),
        category="fact",
        occurred_at=at,
        slot=slot,
    )


@pytest.mark.django_db
def test_reconciling_with_the_profile_retires_a_city_it_no_longer_holds(session):
    old = timezone.now() - timedelta(days=30)
    lisbon = _as_migrated(session, "Lives in Lisbon", at=old, seed=1, slot="city")
    at = timezone.now()

    retired = memory_reconcile_slots(user_id=session.user_id, values={"city": "Porto"}, at=at)

    assert [r.id for r in retired] == [lisbon.id]
    lisbon.refresh_from_db()
    assert lisbon.valid_to == at and lisbon.superseded_by_id is None
    assert lisbon.content == "Lives in Lisbon"
    # Nothing left to retire: a second run changes nothing.
    assert memory_reconcile_slots(user_id=session.user_id, values={"city": "Porto"}, at=at) == []


@pytest.mark.django_db
def test_reconciling_links_the_retired_city_to_the_one_the_profile_holds(session):
    old = timezone.now() - timedelta(days=30)
    lisbon = _as_migrated(session, "Lives in Lisbon", at=old, seed=1, slot="city")
    porto = _as_migrated(session, "Lives in Porto", at=old, seed=2, slot="city")
    at = timezone.now()

    memory_reconcile_slots(user_id=session.user_id, values={"city": "porto"}, at=at)

    lisbon.refresh_from_db()
    porto.refresh_from_db()
    assert lisbon.superseded_by_id == porto.id and lisbon.valid_to == at
    assert porto.valid_to is None


# --- through the API -----------------------------------------------------------------------


def url(user_id, suffix=""):
    return f"/comp/user/{user_id}/memories{suffix}"


@pytest.fixture
def moved(session):
    """Lisbon, then Porto two months later: Lisbon superseded by Porto."""
    start = timezone.now() - timedelta(days=90)
    memory_upsert_many([draft(session, "Lives in Lisbon", at=start, seed=1)])
    memory_upsert_many([draft(session, "Lives in Porto", at=start + timedelta(days=60), seed=2)])
    return (
        CompanionMemory.objects.get(content="Lives in Lisbon"),
        CompanionMemory.objects.get(content="Lives in Porto"),
    )


@pytest.fixture
def embedder(settings):
    embedder = FakeEmbedder()
    settings.EROS_EMBEDDER = embedder
    return embedder


@pytest.mark.django_db
def test_the_list_shows_current_memories_unless_asked_for_the_superseded(client_for, alice, moved):
    lisbon, porto = moved
    client = client_for(alice)
    body = client.get(url(alice)).json()
    assert (body["total"], [m["content"] for m in body["memories"]]) == (1, ["Lives in Porto"])
    (current,) = body["memories"]
    assert (current["slot"], current["valid_to"], current["superseded_by"]) == ("city", None, None)
    assert client.get(url(alice), {"include_superseded": "false"}).json() == body

    every = client.get(url(alice), {"include_superseded": "true"}).json()
    assert every["total"] == 2
    listed = {m["content"]: m for m in every["memories"]}
    assert listed["Lives in Lisbon"]["superseded_by"] == str(porto.id)
    assert listed["Lives in Lisbon"]["slot"] == "city"
    valid_to = listed["Lives in Lisbon"]["valid_to"]
    assert valid_to.endswith("Z") and valid_to.startswith(f"{porto.occurred_at:%Y-%m-%dT%H:%M:%S}")


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "yes", "1", "True", "FALSE", "on", "true "])
def test_include_superseded_takes_only_true_or_false(client_for, alice, moved, value):
    response = client_for(alice).get(url(alice) + "?include_superseded=" + value)
    body = assert_error(response, 400, "validation_error")
    assert set(body["details"]) == {"include_superseded"}


@pytest.mark.django_db
def test_forgetting_the_newer_value_leaves_the_older_one_superseded(client_for, alice, moved):
    lisbon, porto = moved
    client = client_for(alice)
    response = client.delete(url(alice, f"/{porto.id}"))
    assert response.status_code == 200

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM companion_memories WHERE id = %s OR content LIKE %s",
            [porto.id, "%Porto%"],
        )
        assert cursor.fetchone()[0] == 0  # content and vector gone with the row
    lisbon.refresh_from_db()
    assert lisbon.valid_to is not None and lisbon.superseded_by_id is None
    # Forgetting Porto does not make Lisbon true again.
    assert client.get(url(alice)).json()["memories"] == []
    (listed,) = client.get(url(alice), {"include_superseded": "true"}).json()["memories"]
    assert (listed["id"], listed["superseded_by"]) == (str(lisbon.id), None)
    assert listed["valid_to"] is not None
    session = ChatSession.objects.get(id=lisbon.session_id)
    assert recalled(session, "Where do I live? Lisbon", FakeEmbedder()) == []


@pytest.mark.django_db
def test_a_memory_the_user_adds_supersedes_the_value_it_replaces(
    client_for, alice, session, embedder
):
    memory_upsert_many(
        [draft(session, "Lives in Lisbon", at=timezone.now() - timedelta(days=5), seed=1)]
    )
    response = client_for(alice).post(url(alice), {"content": "Lives in Porto"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["slot"], body["valid_to"], body["superseded_by"], body["pinned"]) == (
        "city",
        None,
        None,
        True,
    )
    lisbon = CompanionMemory.objects.get(content="Lives in Lisbon")
    porto = CompanionMemory.objects.get(id=body["id"])
    assert lisbon.superseded_by_id == porto.id and lisbon.valid_to == porto.occurred_at
    assert [m["content"] for m in client_for(alice).get(url(alice)).json()["memories"]] == [
        "Lives in Porto"
    ]


@pytest.mark.django_db
def test_a_memory_the_user_adds_with_the_same_value_supersedes_nothing(
    client_for, alice, session, embedder
):
    memory_upsert_many(
        [draft(session, "Lives in Porto", at=timezone.now() - timedelta(days=5), seed=1)]
    )
    response = client_for(alice).post(url(alice), {"content": "Lives in porto"}, format="json")
    assert response.status_code == 201 and response.json()["slot"] == "city"
    assert CompanionMemory.objects.filter(valid_to__isnull=True).count() == 2


@pytest.mark.django_db
def test_editing_a_memorys_content_recomputes_its_slot_and_supersedes_by_it(
    client_for, alice, session, embedder
):
    start = timezone.now() - timedelta(days=20)
    memory_upsert_many(
        [
            draft(session, "Lives in Lisbon", at=start, seed=1),
            draft(session, "Plays the cello", at=start, seed=2),
        ]
    )
    cello = CompanionMemory.objects.get(content="Plays the cello")
    assert cello.slot is None
    client = client_for(alice)

    response = client.patch(url(alice, f"/{cello.id}"), {"importance": 0.8}, format="json")
    assert response.status_code == 200 and response.json()["slot"] is None

    response = client.patch(
        url(alice, f"/{cello.id}"), {"content": "Lives in Braga"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["slot"] == "city"
    cello.refresh_from_db()
    lisbon = CompanionMemory.objects.get(content="Lives in Lisbon")
    assert cello.slot == "city" and cello.valid_to is None
    assert lisbon.superseded_by_id == cello.id and lisbon.valid_to == cello.updated_at

    response = client.patch(url(alice, f"/{cello.id}"), {"content": "Is a nurse"}, format="json")
    assert response.json()["slot"] == "occupation"
    cello.refresh_from_db()
    assert cello.slot == "occupation"
    # Lisbon stays superseded: an edit never brings an older value back.
    assert CompanionMemory.objects.get(id=lisbon.id).valid_to is not None


@pytest.mark.django_db
def test_editing_a_superseded_memory_keeps_it_superseded(client_for, alice, moved, embedder):
    lisbon, porto = moved
    response = client_for(alice).patch(
        url(alice, f"/{lisbon.id}"), {"content": "Lives in Lisbon, Portugal"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["superseded_by"] == str(porto.id) and body["valid_to"] is not None
    porto.refresh_from_db()
    assert porto.valid_to is None


# --- dreaming across sessions ---------------------------------------------------------------


def _dream(alice, instance_id, lines, *, days_ago):
    from companions.services.dreaming import dreaming_distil_session
    from tests.memory.test_turn_memories import _turn

    session = ChatSession.objects.create(user_id=alice, instance_id=instance_id)
    start = timezone.now() - timedelta(days=days_ago)
    for index, text in enumerate(lines):
        _turn(session, text, start + timedelta(minutes=index))
    outcome = dreaming_distil_session(
        session_id=session.id, chat_model=OfflineChatModel(), embedder=FakeEmbedder()
    )
    assert outcome.status == "distilled"
    return session


@pytest.mark.django_db
def test_a_thing_renamed_in_a_later_session_supersedes_its_old_name(alice):
    instance = uuid.uuid4()
    _dream(
        alice,
        instance,
        [
            "me and my boyfriend Daniel bought an old sailing boat together",
            "the previous owner called it Sea Breeze, which is so boring",
        ],
        days_ago=50,
    )
    later = _dream(alice, instance, ["we repainted the boat and renamed it Wanderer"], days_ago=5)

    rows = {m.content: m for m in CompanionMemory.objects.filter(slot="name:boat")}
    old = rows["The previous owner called their boat Sea Breeze, which is so boring"]
    new = rows["They repainted the boat and renamed their boat Wanderer"]
    assert old.superseded_by_id == new.id
    assert old.valid_to == new.occurred_at
    assert new.valid_to is None
    found = recalled(later, "What's our boat called?", FakeEmbedder())
    assert new.content in found
    assert old.content not in found


@pytest.mark.django_db
def test_relationship_news_over_three_sessions_leaves_only_the_latest_status(alice):
    instance = uuid.uuid4()
    _dream(alice, instance, ["I've been seeing this guy Tomás for a couple of months"], days_ago=90)
    _dream(alice, instance, ["so Tomás and I broke up, he's moving to Berlin"], days_ago=45)
    last = _dream(alice, instance, ["I'm seeing someone new, her name is Leonor"], days_ago=3)

    chain = CompanionMemory.objects.filter(slot="relationship_status").order_by("occurred_at")
    current = [m.content for m in chain if m.valid_to is None]
    assert current == ["Is dating Leonor"]
    assert {m.content for m in chain if m.valid_to is not None} >= {
        "Is dating Tomás",
        "Broke up with Tomás",
    }
    found = recalled(last, "Who am I dating?", FakeEmbedder())
    assert "Is dating Leonor" in found
    assert not any("Tomás" in content and "dating" in content.lower() for content in found)


# --- dreaming on the model path: shown what is remembered, it says what a memory updates ----


def _dream_with(alice, model, lines, *, days_ago, embedder=None):
    from companions.services.dreaming import dreaming_distil_session
    from tests.memory.test_turn_memories import _turn

    session = ChatSession.objects.create(user_id=alice, instance_id=uuid.uuid4())
    start = timezone.now() - timedelta(days=days_ago)
    for index, text in enumerate(lines):
        _turn(session, text, start + timedelta(minutes=index))
    return dreaming_distil_session(
        session_id=session.id, chat_model=model, embedder=embedder or FakeEmbedder()
    )


@pytest.mark.django_db
def test_dreaming_shows_the_model_what_is_remembered_and_applies_its_update(session, alice):
    (bank,) = memory_upsert_many(
        [draft(session, "Is employed at the bank", at=timezone.now() - timedelta(days=60), seed=3)]
    )
    (hobby,) = memory_upsert_many(
        [draft(session, "Plays chess on Sundays", at=timezone.now() - timedelta(days=30), seed=4)]
    )

    def answer(request):
        ids = re.findall(r"^\[([^\]]+)\] User:", request.messages[0].content, re.MULTILINE)
        return json.dumps(
            {
                "memories": [
                    {
                        "content": "Teaches at the primary school",
                        "category": "fact",
                        "source_message_ids": ids,
                        "updates": "m2",
                    },
                    {"content": "Has a sister", "category": "relation", "updates": "m9"},
                ]
            }
        )

    model = FakeChatModel(answer)
    outcome = _dream_with(alice, model, ["I teach at the primary school now"], days_ago=1)

    prompt = model.requests[0].messages[0].content
    # Neither fills a slot, so they come newest first.
    assert '- m1: "Plays chess on Sundays"\n- m2: "Is employed at the bank"' in prompt
    assert outcome.status == "distilled" and outcome.created == 2
    teacher = CompanionMemory.objects.get(content="Teaches at the primary school")
    bank.memory.refresh_from_db()
    assert bank.memory.superseded_by_id == teacher.id
    assert bank.memory.valid_to == teacher.occurred_at
    # An "updates" naming no shown memory is an add; the other memory is untouched.
    assert CompanionMemory.objects.get(content="Has a sister").valid_to is None
    hobby.memory.refresh_from_db()
    assert hobby.memory.valid_to is None


@pytest.mark.django_db
def test_offline_dreaming_reads_a_pronoun_against_what_is_remembered(session, alice):
    memory_upsert_many(
        [
            draft(
                session,
                "Their dog is called Captain (a beagle)",
                at=timezone.now() - timedelta(days=20),
                seed=5,
            )
        ]
    )
    _dream_with(alice, OfflineChatModel(), ["we renamed him Waffles, the kids agreed"], days_ago=1)

    waffles = CompanionMemory.objects.get(content="They renamed their dog Waffles, the kids agreed")
    captain = CompanionMemory.objects.get(content="Their dog is called Captain (a beagle)")
    assert waffles.slot == captain.slot == "pet:dog"
    assert captain.superseded_by_id == waffles.id


# --- a named person's facts -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_named_persons_move_supersedes_where_they_lived_not_the_users_city(session):
    start = timezone.now() - timedelta(days=30)
    (mine,) = memory_upsert_many([draft(session, "Lives in Tucson", at=start, seed=1)])
    (nicos,) = memory_upsert_many(
        [draft(session, "Their brother Nico lives in Phoenix", at=start, seed=2)]
    )
    (marisols,) = memory_upsert_many(
        [draft(session, "Their sister Marisol lives in Tucson", at=start, seed=3)]
    )
    moved_at = start + timedelta(days=10)

    (moved,) = memory_upsert_many([draft(session, "Nico moved to Denver", at=moved_at, seed=4)])

    assert (mine.memory.slot, nicos.memory.slot) == ("city", "city:nico")
    assert moved.memory.slot == "city:nico"
    assert [row.id for row in moved.superseded] == [nicos.memory.id]
    rows = {m.content: m for m in CompanionMemory.objects.all()}
    old = rows["Their brother Nico lives in Phoenix"]
    assert (old.superseded_by_id, old.valid_to) == (moved.memory.id, moved_at)
    assert rows["Lives in Tucson"].valid_to is None
    assert rows["Their sister Marisol lives in Tucson"].valid_to is None
    assert rows["Nico moved to Denver"].valid_to is None


@pytest.mark.django_db
def test_a_named_persons_promotion_supersedes_their_job_and_a_memory_of_many_facts_stays(
    session,
):
    start = timezone.now() - timedelta(days=30)
    memory_upsert_many(
        [
            draft(session, "Works as a paramedic", at=start, seed=1),
            draft(session, "Their sister Marisol is a firefighter", at=start, seed=2),
            draft(
                session,
                "Their cousin Ines is a firefighter in Tucson, their twin brother Nico lives "
                "in Phoenix and just had a baby girl",
                at=start,
                seed=3,
                category="relation",
            ),
        ]
    )

    (promoted,) = memory_upsert_many(
        [
            draft(
                session,
                "Marisol got promoted to captain at her station",
                at=start + timedelta(days=5),
                seed=4,
            )
        ]
    )
    (moved,) = memory_upsert_many(
        [draft(session, "Nico moved to Denver", at=start + timedelta(days=6), seed=5)]
    )

    assert promoted.memory.slot == "occupation:marisol"
    assert [row.content for row in promoted.superseded] == ["Their sister Marisol is a firefighter"]
    assert moved.superseded == ()
    assert sorted(
        CompanionMemory.objects.filter(valid_to__isnull=True).values_list("content", flat=True)
    ) == [
        "Marisol got promoted to captain at her station",
        "Nico moved to Denver",
        "Their cousin Ines is a firefighter in Tucson, their twin brother Nico lives in Phoenix "
        "and just had a baby girl",
        "Works as a paramedic",
    ]


@pytest.mark.django_db
def test_one_slot_value_told_in_two_categories_is_one_memory(session):
    at = timezone.now() - timedelta(days=3)
    (turn,) = memory_upsert_many([draft(session, "Is divorced", at=at, seed=7)])
    (dream,) = memory_upsert_many(
        [draft(session, "Is divorced", at=at + timedelta(hours=1), seed=7, category="relation")]
    )

    assert dream.memory.id == turn.memory.id
    assert list(CompanionMemory.objects.values_list("content", "slot", "valid_to")) == [
        ("Is divorced", "relationship_status", None)
    ]


@pytest.mark.django_db
def test_news_of_an_awaited_hearing_settles_it(session):
    start = timezone.now() - timedelta(days=40)
    (hearing,) = memory_upsert_many(
        [
            draft(
                session, "Filed a small claims case, hearing is on the 2nd of May", at=start, seed=8
            )
        ]
    )
    (news,) = memory_upsert_many(
        [
            draft(
                session,
                "Won the hearing, the judge ruled in their favour",
                at=start + timedelta(days=30),
                seed=9,
            )
        ]
    )

    hearing.memory.refresh_from_db()
    assert news.memory.slot == hearing.memory.slot == "concern:hearing"
    assert hearing.memory.superseded_by_id == news.memory.id


# --- the insight profile follows the user's own memory edits ---------------------------------


def profile_of(user_id) -> dict:
    row = CompanionInsights.objects.filter(user_id=user_id).first()
    return dict(row.insights) if row else {}


@pytest.mark.django_db
def test_a_city_the_user_adds_becomes_the_profiles_city(client_for, alice, session, embedder):
    CompanionInsights.objects.create(user_id=alice, insights={"city": "Lisbon", "age": 30})

    response = client_for(alice).post(url(alice), {"content": "Lives in Porto"}, format="json")

    assert response.status_code == 201
    row = CompanionInsights.objects.get(user_id=alice)
    assert row.insights == {"city": "Porto", "age": 30}


@pytest.mark.django_db
def test_a_job_the_user_edits_becomes_the_profiles_occupation(client_for, alice, session, embedder):
    (nurse,) = memory_upsert_many(
        [draft(session, "Works as a nurse", at=timezone.now() - timedelta(days=5), seed=1)]
    )
    CompanionInsights.objects.create(user_id=alice, insights={"occupation": "nurse"})

    response = client_for(alice).patch(
        url(alice, f"/{nurse.memory.id}"), {"content": "Works as a baker"}, format="json"
    )

    assert response.status_code == 200
    assert profile_of(alice) == {"occupation": "baker"}


@pytest.mark.django_db
def test_forgetting_the_memory_a_profile_field_came_from_removes_the_field(
    client_for, alice, moved
):
    lisbon, porto = moved
    CompanionInsights.objects.create(user_id=alice, insights={"city": "Porto", "age": 30})

    response = client_for(alice).delete(url(alice, f"/{porto.id}"))

    assert response.status_code == 200 and response.json()["id"] == str(porto.id)
    # Lisbon stays superseded, so no current memory says where they live: nor does the profile.
    assert profile_of(alice) == {"age": 30}
    lisbon.refresh_from_db()
    assert lisbon.valid_to is not None


@pytest.mark.django_db
def test_forgetting_a_memory_the_profile_does_not_hold_leaves_the_profile(client_for, alice, moved):
    lisbon, porto = moved
    CompanionInsights.objects.create(user_id=alice, insights={"city": "Braga"})

    assert client_for(alice).delete(url(alice, f"/{porto.id}")).status_code == 200

    assert profile_of(alice) == {"city": "Braga"}


@pytest.mark.django_db
def test_editing_a_city_into_something_else_gives_the_profile_the_city_still_held(
    client_for, alice, session, embedder
):
    (porto,) = memory_upsert_many(
        [draft(session, "Lives in Porto", at=timezone.now() - timedelta(days=5), seed=1)]
    )
    memory_upsert_many(
        [
            draft(
                session,
                "Lives in Porto",
                at=timezone.now() - timedelta(days=4),
                seed=2,
                layer="relationship",
            )
        ]
    )
    CompanionInsights.objects.create(user_id=alice, insights={"city": "Porto"})

    response = client_for(alice).patch(
        url(alice, f"/{porto.memory.id}"), {"content": "Loves Porto in winter"}, format="json"
    )

    assert response.status_code == 200 and response.json()["slot"] is None
    # The relationship layer's memory is no profile fact: nothing holds the city any more.
    assert profile_of(alice) == {}
