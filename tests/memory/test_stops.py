"""Giving something up ends what said the user does it (``memory.stops``; the writer's rule in
memory.services.writes): a stop supersedes the user's current memories of doing the thing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from companions.models import ChatSession
from eros.llm.fakes import FakeEmbedder, unit_vector
from memory.models import CompanionMemory
from memory.selectors import memory_recall
from memory.services.user_memories import memory_add
from memory.slots import Slot, slot_of
from memory.stops import doings, ends, stem, stops
from tests.memory.drafts import write


@pytest.mark.parametrize(
    ("content", "told"),
    [
        ("Quit pottery", ("pottery",)),
        ("Has quit pottery", ("pottery",)),
        ("Has quit pottery, the new teacher is meh", ("pottery",)),
        ("Gave up the cello", ("cello",)),
        ("Gave up the cello, too hard", ("cello",)),
        ("Stopped going to the gym", ("gym",)),
        ("No longer plays chess", ("chess",)),
        ("Isn't doing crochet anymore", ("crochet",)),
        ("Is not doing crochet anymore", ("crochet",)),
        ("Doesn't go to the gym any more", ("gym",)),
        ("Dropped out of the choir", ("choir",)),
        ("Left the choir", ("choir",)),
        ("Quit smoking", ("smoking",)),
        ("Quit smoking and drinking", ("smoking", "drinking")),
        ("Quit the pottery class", ("pottery",)),
        ("Stopped their cello lessons last month", ("cello",)),
        ("Gave up on dating apps", ("apps",)),
        ("The user quit yoga last month", ("yoga",)),
        ("They gave up the piano and the guitar", ("piano", "guitar")),
        # Work is the workplace slot's.
        ("Quit the bank", ()),
        ("Quit Tesco", ()),
        ("Quit their job at the bank", ()),
        ("Has quit their job", ()),
        ("Left their job", ()),
        ("Stopped working", ()),
        ("Quit work", ()),
        # No stop.
        ("Left home at eight", ()),
        ("Stopped at the shop on the way home", ()),
        ("Doesn't play chess", ()),  # never did: no "anymore"
        ("Is thinking of quitting pottery", ()),
        ("Marisol quit smoking", ()),  # someone else
        ("Their sister gave up the cello", ()),
        ("A arrêté la poterie", ()),
    ],
)
def test_stops(content, told):
    assert stops(content) == told


@pytest.mark.parametrize(
    ("content", "told"),
    [
        ("Started a pottery class", ("pottery",)),
        ("Started a pottery class (last week)", ("pottery",)),
        ("Distracting themselves with pottery class", ("pottery",)),
        ("Goes to pottery on Tuesdays", ("pottery",)),
        ("Has started learning the cello", ("cello",)),
        ("Takes cello lessons on Fridays", ("cello",)),
        ("Is learning to play chess", ("chess",)),
        ("Plays chess every Sunday", ("chess",)),
        ("Has been going to the gym every morning", ("gym",)),
        ("Joined a choir", ("choir",)),
        ("Is in a choir", ("choir",)),
        ("Goes running every morning", ("running",)),
        ("Smokes ten a day", ("smokes",)),
        ("Has been smoking since school", ("smoking",)),
        ("Drinks a lot at weekends", ("drinks",)),
        ("Plays a lot of chess", ("chess",)),
        # Not the user's doing, or no doing.
        ("Their sister Marisol started pottery", ()),
        ("Doesn't smoke", ()),
        ("Never plays chess", ()),
        ("Quit pottery", ()),  # a stop
        ("No longer plays chess", ()),
        ("Loves pottery", ()),
        ("Wants to try pottery", ("wants",)),
        ("Works at the gym", ()),
        ("Met Jake at the gym", ()),
        ("Has a dog called Biscuit", ()),
    ],
)
def test_doings(content, told):
    assert doings(content) == told


def test_inflections_share_a_stem():
    assert {stem(w) for w in ("smoking", "smokes", "smoked", "smoke")} == {"smok"}
    assert {stem(w) for w in ("running", "runs")} == {"run"}
    assert (stem("classes"), stem("chess"), stem("pottery"), stem("gym")) == (
        "class",
        "chess",
        "pottery",
        "gym",
    )


@pytest.mark.parametrize(
    ("stop", "doing", "expected"),
    [
        ("Quit smoking", "Smokes ten a day", True),
        ("Stopped going to the gym", "Has been going to the gym every morning", True),
        ("Gave up the cello", "Has started learning the cello", True),
        ("Quit the book club", "Joined a running club", False),
        ("Quit pottery", "Gave up pottery", False),  # a stop is no doing
        ("Likes green tea", "Drinks green tea", False),  # no stop
    ],
)
def test_a_stop_ends_a_doing_of_the_same_thing(stop, doing, expected):
    assert ends(stop, doing) is expected


def test_quitting_an_activity_is_no_workplace_but_quitting_work_still_is():
    assert slot_of("Quit pottery") is None
    assert slot_of("Quit pottery, the new teacher is meh") is None
    assert slot_of("Quit smoking") is None
    assert slot_of("Quit the bank") == Slot("workplace", "quit the bank")
    assert slot_of("Quit their job at the bank") == Slot("workplace", "quit their job at the bank")


# --- the writer -----------------------------------------------------------------------------

START = timezone.now() - timedelta(days=30)


def current(user_id):
    return sorted(
        CompanionMemory.objects.filter(user_id=user_id, valid_to__isnull=True).values_list(
            "content", flat=True
        )
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "news",
    [
        "Quit pottery",
        "Has quit pottery, the new teacher is meh",
        "Gave up pottery",
        "Stopped going to pottery",
        "No longer goes to pottery",
        "Isn't doing pottery anymore",
    ],
)
def test_giving_up_supersedes_the_memories_of_doing_it(session, news):
    started = write(session, "Started a pottery class", at=START, seed=1, category="event")
    tuesdays = write(session, "Goes to pottery on Tuesdays", at=START + timedelta(days=2), seed=2)
    chess = write(session, "Plays chess every Sunday", at=START, seed=3)
    sister = write(session, "Their sister Marisol does pottery too", at=START, seed=4)
    stopped_at = START + timedelta(days=20)

    stop = write(session, news, at=stopped_at, seed=5)

    assert stop.created is True and stop.memory.slot is None
    assert [row.id for row in stop.superseded] == [started.memory.id, tuesdays.memory.id]
    for old in (started.memory, tuesdays.memory):
        old.refresh_from_db()
        assert old.valid_to == stopped_at and old.superseded_by_id == stop.memory.id
        assert old.deleted_at is None
    assert started.memory.content == "Started a pottery class"
    assert stop.memory.valid_to is None and stop.memory.superseded_by_id is None
    assert current(session.user_id) == sorted([news, chess.memory.content, sister.memory.content])


@pytest.mark.django_db
def test_a_superseded_doing_is_no_longer_recalled(session):
    write(session, "Started a pottery class", at=START, seed=1, category="event")

    write(session, "Quit pottery", at=START + timedelta(days=20), seed=2)

    recall = memory_recall(
        user_id=session.user_id,
        instance_id=session.instance_id,
        query_vector=unit_vector(1),  # as close to the old row as can be
        query_text="Am I still doing pottery?",
        now=timezone.now(),
    )
    contents = [h.content for h in recall.all_hits]
    assert "Started a pottery class" not in contents
    assert "Quit pottery" in contents


@pytest.mark.django_db
def test_quitting_a_habit_ends_the_habit(session):
    smokes = write(session, "Smokes ten a day", at=START, seed=1).memory

    stop = write(session, "Quit smoking", at=START + timedelta(days=3), seed=2)

    smokes.refresh_from_db()
    assert [row.id for row in stop.superseded] == [smokes.id]
    assert smokes.superseded_by_id == stop.memory.id
    assert smokes.valid_to == START + timedelta(days=3)


@pytest.mark.django_db
def test_a_stop_leaves_pinned_memories_and_other_stops_alone(session, alice):
    pinned = memory_add(
        user_id=alice,
        content="Goes to the gym every morning",
        embedder=FakeEmbedder(),
        now=START,
    )
    earlier = write(session, "Gave up the gym for a month", at=START + timedelta(days=1), seed=1)
    going = write(session, "Has been going to the gym again", at=START + timedelta(days=5), seed=2)

    stop = write(session, "Stopped going to the gym", at=START + timedelta(days=9), seed=3)

    assert [row.id for row in stop.superseded] == [going.memory.id]
    pinned.refresh_from_db()
    earlier.memory.refresh_from_db()
    assert pinned.valid_to is None and earlier.memory.valid_to is None


@pytest.mark.django_db
def test_quitting_work_is_the_workplace_slots_and_quitting_pottery_leaves_the_job(session):
    bakery = write(session, "Works at the bakery", at=START, seed=1).memory
    pottery = write(session, "Goes to pottery on Tuesdays", at=START, seed=2).memory
    bank_visits = write(session, "Goes to the bank on Fridays", at=START, seed=3).memory

    quit_pottery = write(session, "Quit pottery", at=START + timedelta(days=1), seed=4)
    quit_job = write(session, "Quit the bakery", at=START + timedelta(days=2), seed=5)

    assert quit_pottery.memory.slot is None
    assert [row.id for row in quit_pottery.superseded] == [pottery.id]
    assert quit_job.memory.slot == "workplace"
    assert [row.id for row in quit_job.superseded] == [bakery.id]
    bank_visits.refresh_from_db()
    assert bank_visits.valid_to is None


@pytest.mark.django_db
def test_another_users_and_the_other_layers_doings_are_untouched(session, bob):
    bobs = ChatSession.objects.create(user_id=bob, instance_id=uuid.uuid4())
    bobs_chess = write(bobs, "Plays chess every Sunday", at=START, seed=1).memory
    shared = write(session, "Plays chess every Sunday", at=START, seed=2, layer="relationship")

    stop = write(session, "No longer plays chess", at=START + timedelta(days=1), seed=3)

    bobs_chess.refresh_from_db()
    shared.memory.refresh_from_db()
    assert stop.superseded == () and stop.memory.slot is None
    assert bobs_chess.valid_to is None and shared.memory.valid_to is None


@pytest.mark.django_db
def test_a_stop_told_before_a_restart_is_stored_already_superseded_by_it(session):
    before = write(session, "Goes to pottery on Tuesdays", at=START, seed=1).memory
    again = write(session, "Started pottery again", at=START + timedelta(days=10), seed=2).memory
    stopped_at = START + timedelta(days=5)

    stop = write(session, "Quit pottery", at=stopped_at, seed=3)

    before.refresh_from_db()
    again.refresh_from_db()
    stop.memory.refresh_from_db()
    assert [row.id for row in stop.superseded] == [before.id, stop.memory.id]
    assert (before.superseded_by_id, before.valid_to) == (stop.memory.id, stopped_at)
    assert (stop.memory.superseded_by_id, stop.memory.valid_to) == (again.id, again.occurred_at)
    assert again.valid_to is None


@pytest.mark.django_db
def test_a_stop_of_something_no_memory_says_they_do_just_adds(session):
    chess = write(session, "Plays chess every Sunday", at=START, seed=1).memory

    stop = write(session, "Quit pottery", at=START + timedelta(days=1), seed=2)

    chess.refresh_from_db()
    assert stop.created is True and stop.superseded == () and chess.valid_to is None


@pytest.mark.django_db
def test_only_a_draft_telling_a_stop_looks_up_the_doings(session):
    write(session, "Goes to pottery on Tuesdays", at=START, seed=1)

    def pottery_lookups(content, seed):
        with CaptureQueriesContext(connection) as queries:
            write(session, content, at=START + timedelta(days=1), seed=seed)
        return sum("%pottery%" in q["sql"].lower() for q in queries.captured_queries)

    assert pottery_lookups("Likes green tea", 2) == 0
    assert pottery_lookups("Quit pottery", 3) == 1
