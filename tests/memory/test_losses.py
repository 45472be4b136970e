"""A named being that dies or is lost ends its slot (``memory.losses``; the writer's rule in
memory.services.writes): the loss takes the slot of the memory holding the name and supersedes
it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from companions.models import ChatSession
from eros.llm.fakes import unit_vector
from memory.losses import Loss, losses
from memory.models import CompanionMemory
from memory.selectors import memory_recall
from tests.memory.drafts import write


@pytest.mark.parametrize(
    ("content", "told"),
    [
        ("Pickle died this morning", (Loss("Pickle", True),)),
        ("Their cat Pickle passed away", (Loss("Pickle", True),)),
        ("Had to put Rufus down", (Loss("Rufus", True),)),
        ("The vet put Pickle to sleep", (Loss("Pickle", True),)),
        ("Rufus had to be put to sleep", (Loss("Rufus", True),)),
        ("Rufus was put down", (Loss("Rufus", True),)),
        ("Their dog Rufus is dead", (Loss("Rufus", True),)),
        ("Lost Pickle last night", (Loss("Pickle", True),)),
        ("Lost their cat Pickle", (Loss("Pickle", True),)),
        ("Their grandma Rosa passed away", (Loss("Rosa", True),)),
        ("O'Malley died", (Loss("O'Malley", True),)),
        ("Yesterday Pickle died", (Loss("Yesterday Pickle", True), Loss("Pickle", True))),
        ("Had to put Mr Whiskers to sleep", (Loss("Mr Whiskers", True), Loss("Whiskers", True))),
        ("Biscuit ran away", (Loss("Biscuit", False),)),
        ("Biscuit's gone missing", (Loss("Biscuit", False),)),
        ("Biscuit has sadly gone missing", (Loss("Biscuit", False),)),
        ("Pickle died. Mochi ran away", (Loss("Pickle", True), Loss("Mochi", False))),
        ("She died", ()),
        ("Pickle is 17 now", ()),
        ("Pickle nearly died", ()),
        ("Pickle is dead tired", ()),
        ("Lost their keys", ()),
        ("Lost the match to Arsenal", ()),
        ("Lost their job at Tesco", ()),
        ("Mark ran off with the money", ()),
        ("Pickle est mort ce matin", ()),
    ],
)
def test_losses(content, told):
    assert losses(content) == told


def test_a_death_ends_pet_and_named_slots_a_pet_gone_only_pet_slots():
    died, gone = Loss("Rosa", True), Loss("Mark", False)
    assert (died.ends("pet:cat"), died.ends("name:grandma"), died.ends("city")) == (
        True,
        True,
        False,
    )
    assert (gone.ends("pet:dog"), gone.ends("name:boss")) == (True, False)


# --- the writer -----------------------------------------------------------------------------

START = timezone.now() - timedelta(days=30)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "news",
    [
        "Pickle died this morning",
        "Their cat Pickle passed away",
        "Had to put Pickle down",
        "Pickle had to be put to sleep",
    ],
)
def test_a_pets_death_supersedes_its_name_memory(session, news):
    pickle = write(session, "Has a cat called Pickle", at=START, seed=1).memory
    dog = write(session, "Has a dog called Biscuit", at=START, seed=2).memory
    died_at = START + timedelta(days=20)

    death = write(session, news, at=died_at, seed=3, category="event")

    pickle.refresh_from_db()
    assert death.created is True and death.memory.slot == "pet:cat"
    assert [row.id for row in death.superseded] == [pickle.id]
    assert pickle.valid_to == died_at and pickle.superseded_by_id == death.memory.id
    assert pickle.content == "Has a cat called Pickle" and pickle.deleted_at is None
    assert death.memory.valid_to is None and death.memory.superseded_by_id is None
    dog.refresh_from_db()
    assert dog.valid_to is None and dog.superseded_by_id is None

    recall = memory_recall(
        user_id=session.user_id,
        instance_id=session.instance_id,
        query_vector=unit_vector(1),  # as close to the old row as can be
        query_text="Is my cat still alive?",
        now=timezone.now(),
    )
    contents = [h.content for h in recall.all_hits]
    assert "Has a cat called Pickle" not in contents
    ((_, events),) = [g for g in recall.profile_groups if g[0] == "event"]
    assert [(h.content, h.asked) for h in events] == [(news, True)]


@pytest.mark.django_db
def test_a_death_ends_a_named_ones_slot(session):
    rosa = write(session, "Their grandma is called Rosa", at=START, seed=1).memory
    assert rosa.slot == "name:grandma"

    death = write(session, "Rosa passed away", at=START + timedelta(days=5), seed=2)

    rosa.refresh_from_db()
    assert death.memory.slot == "name:grandma"
    assert rosa.superseded_by_id == death.memory.id
    assert rosa.valid_to == START + timedelta(days=5)


@pytest.mark.django_db
def test_a_pet_that_ran_away_ends_its_slot_a_person_gone_missing_does_not(session):
    biscuit = write(session, "Has a dog called Biscuit", at=START, seed=1).memory
    mark = write(session, "Their boss is called Mark", at=START, seed=2).memory
    later = START + timedelta(days=3)

    gone = write(session, "Biscuit ran away", at=later, seed=3)
    missing = write(session, "Mark went missing for an hour", at=later, seed=4)

    biscuit.refresh_from_db()
    mark.refresh_from_db()
    assert (gone.memory.slot, biscuit.superseded_by_id) == ("pet:dog", gone.memory.id)
    assert missing.memory.slot is None and missing.superseded == ()
    assert mark.valid_to is None


@pytest.mark.django_db
def test_the_death_of_a_name_no_memory_holds_just_adds(session):
    pickle = write(session, "Has a cat called Pickle", at=START, seed=1).memory

    death = write(session, "Rufus died last night", at=START + timedelta(days=1), seed=2)

    pickle.refresh_from_db()
    assert death.created is True and death.memory.slot is None and death.superseded == ()
    assert pickle.valid_to is None and pickle.superseded_by_id is None
    assert CompanionMemory.objects.filter(valid_to__isnull=True).count() == 2


@pytest.mark.django_db
def test_another_users_pet_of_the_same_name_is_untouched(session, bob):
    bobs = ChatSession.objects.create(user_id=bob, instance_id=uuid.uuid4())
    bobs_pickle = write(bobs, "Has a cat called Pickle", at=START, seed=1).memory

    death = write(session, "Pickle died this morning", at=START + timedelta(days=1), seed=2)

    bobs_pickle.refresh_from_db()
    assert death.memory.slot is None and death.superseded == ()
    assert bobs_pickle.valid_to is None and bobs_pickle.superseded_by_id is None


@pytest.mark.django_db
def test_a_death_in_the_other_layer_leaves_the_pet_alone(session):
    pickle = write(session, "Has a cat called Pickle", at=START, seed=1).memory

    death = write(
        session,
        "Pickle died this morning",
        at=START + timedelta(days=1),
        seed=2,
        layer="relationship",
    )

    pickle.refresh_from_db()
    assert death.memory.slot is None and pickle.valid_to is None


@pytest.mark.django_db
def test_a_death_told_before_the_pets_name_is_stored_already_superseded(session):
    pickle = write(session, "Has a cat called Pickle", at=START, seed=1).memory

    death = write(session, "Pickle died", at=START - timedelta(days=2), seed=2)

    pickle.refresh_from_db()
    assert death.memory.slot == "pet:cat"
    assert [row.id for row in death.superseded] == [death.memory.id]
    assert death.memory.superseded_by_id == pickle.id and pickle.valid_to is None


@pytest.mark.django_db
def test_only_a_draft_telling_a_loss_looks_up_the_named_slots(session):
    write(session, "Has a cat called Pickle", at=START, seed=1)

    def pet_lookups(content, seed):
        with CaptureQueriesContext(connection) as queries:
            write(session, content, at=START + timedelta(days=1), seed=seed)
        return sum("pet:%" in q["sql"] for q in queries.captured_queries)

    assert pet_lookups("Likes green tea", 2) == 0
    assert pet_lookups("Pickle died", 3) == 1
