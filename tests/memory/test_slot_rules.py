"""The offline slot rules (``memory.slots.slot_of``): which current fact a memory is a value of."""

from __future__ import annotations

import pytest

from memory.slots import Slot, slot_of


@pytest.mark.parametrize(
    ("content", "slot"),
    [
        ("Lives in Porto", Slot("city", "porto")),
        ("Lives in porto", Slot("city", "porto")),
        ("Lives in The Hague", Slot("city", "hague")),
        ("Moved to Porto last Saturday", Slot("city", "porto")),
        ("The user lives in Lisbon", Slot("city", "lisbon")),
        ("Works as a nurse", Slot("occupation", "nurse")),
        ("Is a carpenter's apprentice now", Slot("occupation", "carpenter's apprentice")),
        ("Is retired", Slot("occupation", "retired")),
        ("Retired last month after 38 years", Slot("occupation", "retired")),
        ("Works at the bakery", Slot("workplace", "bakery")),
        ("Quit the bank", Slot("workplace", "quit the bank")),
        ("Their name is Sam", Slot("name", "sam")),
        ("Goes by Sam", Slot("name", "sam")),
        ("Is 29 years old", Slot("age", "29")),
        ("Is 38", Slot("age", "38")),
        ("Has a dog called Biscuit", Slot("pet:dog", "biscuit")),
        ("Their cat is called Miso now", Slot("pet:cat", "miso")),
        ("Their cactus is called Gerald", Slot("name:cactus", "gerald")),
        ("Their boss's name is Mark", Slot("name:boss", "mark")),
        ("They repainted the boat and renamed their boat Wanderer", Slot("name:boat", "wanderer")),
        ("Is engaged", Slot("relationship_status", "engaged")),
        ("Broke up with Tomás", Slot("relationship_status", "broke up with tomás")),
        ("Has been seeing this guy Tomás for months", Slot("relationship_status", "dating tomás")),
    ],
)
def test_a_memory_fills_the_slot_its_words_say(content, slot):
    assert slot_of(content) == slot


@pytest.mark.parametrize(
    "content",
    [
        "Moved in Saturday, their mum packed them twelve tubs of soup",  # a day, not a city
        "Moved in with their girlfriend",
        "Lives in a tiny flat near the river",
        "Is 38 weeks pregnant",  # no age
        "Her name is Hana, she's a route setter",  # someone else's name
        "Is a night owl",  # no job
        "Is an optimist",
        "Is seeing someone new, her name is Leonor",  # named in its own memory
        "Is seeing a therapist",
        "Teaches yoga on weekends",  # teaching somewhere else than a school is no job by rule
    ],
)
def test_a_memory_that_only_looks_like_a_slot_has_none(content):
    assert slot_of(content) is None


# --- a named person's city and job ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "slot"),
    [
        ("Their brother Nico lives in Phoenix", Slot("city:nico", "phoenix")),
        ("Nico moved to Denver", Slot("city:nico", "denver")),
        ("Nico's moved to Denver", Slot("city:nico", "denver")),
        ("Nico and his wife Kayla moved up to Denver last week", Slot("city:nico", "denver")),
        ("Their twin brother Nico lives in Phoenix with his wife", Slot("city:nico", "phoenix")),
        ("The user's cousin Ana relocated to The Hague", Slot("city:ana", "hague")),
        ("Aunt Rosa moved back to Leeds", Slot("city:rosa", "leeds")),
        ("Nico Ruiz lives in New York", Slot("city:nico", "new york")),
        ("Their sister Marisol is a firefighter", Slot("occupation:marisol", "firefighter")),
        ("Marisol works as a nurse", Slot("occupation:marisol", "nurse")),
        ("Marisol got promoted to captain at her station", Slot("occupation:marisol", "captain")),
        ("Nico's wife Kayla is a nurse", Slot("occupation:kayla", "nurse")),
        ("Their dad Tom is retired", Slot("occupation:tom", "retired")),
        # The user's own slots stay theirs.
        ("Lives in Phoenix", Slot("city", "phoenix")),
        ("Recently moved to Denver", Slot("city", "denver")),
        ("Has moved to Denver", Slot("city", "denver")),
        ("Is retired", Slot("occupation", "retired")),
        ("She moved to Denver", Slot("city", "denver")),
        ("Sam has a beagle called Biscuit", Slot("pet:dog", "biscuit")),
    ],
)
def test_a_named_persons_city_and_job_are_slots_of_their_own(content, slot):
    assert slot_of(content) == slot


@pytest.mark.parametrize(
    "content",
    [
        # More than one fact: superseding it would lose the rest.
        "Their sister Marisol is a firefighter in Tucson, their twin brother Nico lives in "
        "Phoenix and just had a baby girl",
        "Nico lives in Phoenix and just had a baby girl",
        "Nico moved to Denver, he hates the snow",
        "Nico moved to Denver because his wife got a job there",
        "Marisol is a nurse who works nights",
        "Their sister Marisol is a firefighter in Tucson",  # a job and a city
        # No city or job.
        "Nico is a night owl",
        "Nico moved to a bigger flat",
        "Their brother lives in Phoenix",  # no name
        "Their mum is retired",
    ],
)
def test_a_named_person_memory_that_says_more_or_other_has_no_slot(content):
    assert slot_of(content) is None


@pytest.mark.parametrize(
    ("content", "key"),
    [
        # An awaited outcome and when it comes is a concern, worried or not.
        ("Filed a small claims case, hearing is on the 2nd of May", "concern:hearing"),
        ("Results in about two weeks", "concern:results"),
        ("Their driving test is next month", "concern:test"),
        ("Has got a final round interview at Pixelcraft on Thursday", "concern:interview"),
        ("Is getting divorced", "relationship_status"),
        ("Is separated", "relationship_status"),
    ],
)
def test_what_is_awaited_and_a_marriage_ending_have_slots(content, key):
    assert slot_of(content).key == key


@pytest.mark.parametrize(
    "content", ["Their exam results are in", "Works in the test kitchen on Mondays"]
)
def test_an_outcome_that_came_or_a_word_in_passing_is_no_awaited_concern(content):
    assert slot_of(content) is None


@pytest.mark.parametrize(
    ("content", "slot"),
    [
        ("Is sous chef at a Lebanese restaurant called Zaatar", Slot("occupation", "sous chef")),
        ("Is a sous chef at an Italian place in Swansea", Slot("occupation", "sous chef")),
        ("Is head chef now", Slot("occupation", "head chef")),
        (
            "Teaches maths at a secondary school, so evenings are free",
            Slot("occupation", "teaches maths"),
        ),
        ("Leila's moving to Dubai in May", Slot("city:leila", "dubai")),
        ("Kwame's moving back from Toronto to Leeds in May", Slot("city:kwame", "leeds")),
    ],
)
def test_a_job_without_its_place_and_a_named_ones_move(content, slot):
    assert slot_of(content) == slot
