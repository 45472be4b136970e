"""What the offline dreaming pass keeps of the user's own sentences (``statements``): third
person, without the words that only open or close a line, pronouns resolved to what they
stand for, and nothing from remarks, replies or thanks."""

from __future__ import annotations

import pytest

from eros.llm.offline.extraction import clauses, memories
from memory.slots import Slot, slot_of


def contents(*said: str) -> list[str]:
    return [m["content"] for m in memories(list(enumerate(said)))]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        # Openers and laughter go; "I've" mid-sentence is not capitalised.
        (
            "so I've taken up bouldering instead, my physio said it's fine",
            "Has taken up bouldering instead",
        ),
        ("pay is terrible but I'm so much happier", "Pay is terrible but they're so much happier"),
        # An impersonal "you" is anyone, not the companion.
        (
            "the new place has a balcony and you can see the Douro from it",
            "The new place has a balcony and one can see the Douro from it",
        ),
        # An introduction's name is a memory of its own; the rest is the statement.
        (
            "I'm Kofi, I moved here from Accra two years ago",
            "Moved here from Accra two years ago",
        ),
    ],
)
def test_a_statement_is_kept_in_the_third_person_without_its_openers(said, expected):
    assert expected in contents(said)


@pytest.mark.parametrize(
    "said",
    [
        "it's as boring as it sounds",
        "it's nice but the weather here is getting ridiculous",
        "ok I'll try that, thanks",
        "update on the kitten",
        "haha that was so much fun lol",
        # A greeting with a question, thanks to someone, leave-taking, a question after a
        # comma without its "?".
        "Alright Idris how's it going pal",
        "thank you my child 🙏🏾",
        "let me go close the shop",
        "must go and do my exercises",
        "Enough about me, what's it like living by the sea",
    ],
)
def test_remarks_replies_and_thanks_leave_no_memory(said):
    assert contents(said) == []


def test_a_naming_resolves_it_to_the_thing_before_it_in_the_same_sentence():
    assert contents("we repainted the boat and renamed it Wanderer") == [
        "They repainted the boat and renamed their boat Wanderer"
    ]


def test_a_naming_resolves_it_to_a_thing_the_pattern_memories_already_covered():
    # The first line is read by the relation pattern; its boat is still what "it" names next.
    assert contents(
        "me and my boyfriend Daniel bought an old sailing boat together",
        "the previous owner called it Sea Breeze, which is so boring",
    ) == [
        "They and their boyfriend Daniel bought an old sailing boat together",
        "The previous owner called their boat Sea Breeze, which is so boring",
    ]


def test_the_subject_of_a_naming_is_not_what_it_names():
    # "the previous owner" is who named it; with nothing got before, "it" stays.
    assert contents("the previous owner called it Sea Breeze, which is so boring") == [
        "The previous owner called it Sea Breeze, which is so boring"
    ]


def test_its_called_names_the_users_thing_of_the_line_before():
    said = contents("my cactus is dying, I think I water it too much", "it's called Gerald haha")
    assert said == [
        "Their cactus is dying, they think they water it too much",
        "Their cactus is called Gerald",
    ]
    assert slot_of(said[1]) == Slot("name:cactus", "gerald")


@pytest.mark.parametrize(
    ("said", "status", "slot_value"),
    [
        (
            "I've been seeing this guy Tomás for a couple of months, it's going really well",
            "Is dating Tomás",
            "dating tomás",
        ),
        ("so Tomás and I broke up", "Broke up with Tomás", "broke up with tomás"),
        (
            "I'm seeing someone new, her name is Leonor, we met at a pottery class",
            "Is dating Leonor",
            "dating leonor",
        ),
        ("we're engaged! he asked me on the boat at sunset", "Is engaged", "engaged"),
    ],
)
def test_relationship_news_is_a_status_in_the_relationship_slot(said, status, slot_value):
    found = contents(said)
    assert found[0] == status
    assert slot_of(status).key == "relationship_status"
    assert slot_of(status).value == slot_value
    # The rest of the line, if kept, never claims another status.
    for other in found[1:]:
        slot = slot_of(other)
        assert slot is None or slot.value == slot_value


def test_the_statement_beside_a_named_status_is_no_unnamed_status():
    assert slot_of("Is seeing someone new, her name is Leonor, they met at a pottery class") is None
    assert slot_of("Is seeing someone").value == "seeing someone"
    assert slot_of("Has been seeing this guy Tomás for a couple of months").value == "dating tomás"


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        # A new home: the city is what the home is in.
        ("we finally got the keys!!! our own place in Utrecht", "Lives in Utrecht"),
        ("I'm living back at my parents' in Swansea for now", "Lives in Swansea"),
        ("I signed the lease on a studio flat in Canton", "Lives in Canton"),
        # A job taken up, and where.
        ("got promoted to team lead!", "Works as a team lead"),
        ("first week as head chef at Ember done", "Works as a head chef"),
        (
            "I'm a dental hygienist, so yes I will judge your flossing",
            "Works as a dental hygienist",
        ),
        ("update: I got the bakery job, started last Monday", "Works at the bakery"),
        ("also got a job at a ramen place on Fourth Avenue", "Works at a ramen place"),
        ("I retired last month after 38 years", "Is retired"),
        # Outcomes told in shorthand, and a short line that names something.
        ("visa approved!!!!! I'm going to Canada", "Their visa was approved"),
        ("my biopsy came back benign", "Their biopsy came back benign"),
        ("passed the SQE!!! first time!!", "Passed the SQE, first time"),
        # A pet named beside its species.
        ("my cat Pickle is 17 now, ginger, grumpy", "Their cat is called Pickle"),
        # Adverbs, "was" and times keep their form.
        ("I never learned to swim", "Never learned to swim"),
        ("I was late three times this month", "Was late three times this month"),
        ("my shift starts at 4am every day", "Their shift starts at 4am every day"),
        (
            "I found my old skateboard from when I was 15",
            "Found their old skateboard from when they were 15",
        ),
    ],
)
def test_what_the_user_says_about_their_life_is_read_as_a_memory(said, expected):
    assert expected in contents(said)


@pytest.mark.parametrize(
    "said",
    [
        "what should I name the apartment",
        "tell me something random",
        "ok gotta go, one of them is chewing a cable",
        "ok have to run, visiting hours",
        "Hola from the other side of the world",
        "thanks for not judging",
        "That's a terrible name",
        "Gonna go make dinner, speak soon",
        "gonna sleep on it",
        "I'm going to info dump, sorry in advance",
    ],
)
def test_requests_unmarked_questions_and_leave_taking_are_no_memories(said):
    assert contents(said) == []


def test_a_pronoun_or_possessive_stands_for_the_last_pet_or_person():
    assert contents(
        "my grandad was from Galway",
        "He was a lighthouse keeper for forty years",
    ) == ["Their grandad was from Galway", "Their grandad was a lighthouse keeper for forty years"]
    assert "Their cat's kidneys were failing, the vet said" in contents(
        "our old cat is not well", "His kidneys were failing, the vet said"
    )
    assert "Their rabbits are called Salt and Vinegar" in contents(
        "we got two rabbits", "they're called Salt and Vinegar"
    )


def test_a_greeting_goes_and_the_users_own_words_after_it_stay():
    assert contents("hi Noor, I started a pottery class") == ["Started a pottery class"]
    assert contents("Hey, I moved to Ghent last week") == [
        "Lives in Ghent",
        "Moved to Ghent last week",
    ]


@pytest.mark.parametrize(
    "said",
    [
        "sorry I've been quiet, work has been insane",
        "of course I said yes haha",
        "hmm I've read that one",
    ],
)
def test_apologies_and_replies_to_the_other_side_are_no_memories(said):
    assert contents(said) == []


@pytest.mark.parametrize(
    ("body", "pieces"),
    [
        # Someone else's clause is a memory of its own.
        (
            "my sister Marisol is a firefighter in Tucson, my brother Nico lives in Phoenix",
            ["my sister Marisol is a firefighter in Tucson", "my brother Nico lives in Phoenix"],
        ),
        (
            "Milo wants to call him Sausage and Edie wants Waffles",
            ["Milo wants to call him Sausage", "Edie wants Waffles"],
        ),
        # The user's own clauses stay together: they need each other's context.
        (
            "I'm seeing someone new, we met at a pottery class",
            ["I'm seeing someone new, we met at a pottery class"],
        ),
        # No new subject: one clause.
        ("I live with my mum and my parents", ["I live with my mum and my parents"]),
        ("Tom and Jerry went to the park", ["Tom and Jerry went to the park"]),
        ("she's grey with white paws", ["she's grey with white paws"]),
    ],
)
def test_a_statement_is_cut_where_someone_else_becomes_the_subject(body, pieces):
    assert clauses(body) == pieces


def test_someone_elses_clause_is_a_memory_of_its_own():
    assert contents("my cousin Anwen is a paralegal and she's helping me with the bundle") == [
        "Their cousin Anwen is a paralegal",
        "Their cousin is helping them with the bundle",
    ]
    assert contents("my big brother Kwame lives in Toronto, he's an engineer") == [
        "Their big brother Kwame lives in Toronto",
        "Their brother is an engineer",
    ]


def test_the_user_after_someone_else_is_a_clause_of_its_own():
    assert clauses("Kwame's moving back to Leeds in May and i want to be around for that") == [
        "Kwame's moving back to Leeds in May",
        "i want to be around for that",
    ]
    assert clauses("my sister Ana is a nurse and I'm a teacher") == [
        "my sister Ana is a nurse",
        "I'm a teacher",
    ]
    # One subject with the user in it, and "we" going on with the same ones, stay whole.
    assert clauses("my grandson Alfie and I have taken on an allotment") == [
        "my grandson Alfie and I have taken on an allotment"
    ]
    assert clauses("Waffles ate a whole chocolate egg, we had to rush him to the vet") == [
        "Waffles ate a whole chocolate egg, we had to rush him to the vet"
    ]


def test_she_has_before_a_participle_and_irregular_pasts():
    assert "Their mum has never had an operation before" in contents(
        "my mum is 71", "she's never had an operation before"
    )
    assert contents("I grew up on a farm in Galicia") == ["Grew up on a farm in Galicia"]


def test_a_move_keeps_the_place_without_its_time():
    assert contents("yes I moved to Leeds in May") == ["Lives in Leeds", "Moved to Leeds in May"]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("I no longer play chess", ["No longer plays chess"]),
        ("I quit pottery", ["Quit pottery"]),
        ("I have quit the gym", ["Has quit the gym"]),
        ("my wife Wendy and I have decided to separate", ["Is separated"]),
        (
            "the divorce came through last month",
            ["Is divorced", "The divorce came through last month"],
        ),
    ],
)
def test_giving_up_and_a_marriage_ending_are_read(said, expected):
    assert contents(said)[: len(expected)] == expected


@pytest.mark.parametrize("said", ["I'm so done", "I've read that one", "I'm rambling, sorry"])
def test_a_short_line_that_needs_the_other_side_is_no_memory(said):
    assert contents(said) == []


def test_a_named_subject_is_what_a_later_she_stands_for():
    assert contents("and Ffion got her results!! A*AA, she's off to Aberystwyth to do biology") == [
        "Ffion got her results",
        "A*AA, Ffion is off to Aberystwyth to do biology",
    ]
    assert contents("my mum is 71, she's never had an operation") == [
        "Their mum is 71",
        "Their mum has never had an operation",
    ]


def test_a_job_accepted_is_where_the_user_works():
    assert contents("decided. turned down Quillpay and accepted the NHS job")[0] == "Works at NHS"


def test_they_stands_for_the_last_several_and_him_for_the_last_one():
    assert contents(
        "Anika talked me into two rabbits lol. they're called Salt and Vinegar",
        "they live in a hutch in the garden",
    ) == [
        "Anika talked them into two rabbits",
        "Their rabbits are called Salt and Vinegar",
        "Their rabbits live in a hutch in the garden",
    ]
    assert "Milo wants to call their beagle Sausage" in contents(
        "we adopted a beagle from the shelter, the kids aren't sure about the name",
        "Milo wants to call him Sausage and Edie wants Waffles",
    )


@pytest.mark.parametrize(
    ("said", "first"),
    [
        ("I've met someone. her name's Linda, she's from the salsa class", "Is dating Linda"),
        ("divorce finalised today, 24 years done", "Is divorced"),
        ("I'm Sofía, I live in Madrid", "Lives in Madrid"),
        ("handed my notice in and I start Monday as a practice nurse", "Works as a practice nurse"),
    ],
)
def test_news_told_in_passing_is_read(said, first):
    assert contents(said)[0] == first


def test_trying_to_sleep_and_asking_for_a_friend_are_no_memories():
    assert contents("gonna try and sleep", "asking for a friend") == []


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("massive news: I'm head chef now!!", ["Works as a head chef"]),
        (
            "dad's agreed to sell the farm. he's moved into a flat in Castlebar",
            ["Dad's agreed to sell the farm", "Their dad has moved into a flat in Castlebar"],
        ),
    ],
)
def test_a_label_goes_and_family_without_my_is_who_he_is(said, expected):
    assert contents(said) == expected


def test_living_somewhere_said_without_i_and_shouting_keep_their_form():
    assert contents("Originally from Sapporo, living in Berlin for two years now")[0] == (
        "Lives in Berlin"
    )
    assert contents("my friend is living in Paris") == ["Their friend is living in Paris"]
    assert contents("PASSED MY TEST on friday") == ["PASSED THEIR TEST on friday"]


def test_someone_elses_new_job_is_theirs_not_the_users():
    assert contents("and Leila's moving to Dubai in May, she got a job at a clinic there") == [
        "Leila's moving to Dubai in May",
        "Leila got a job at a clinic there",
    ]
    assert contents("my brother got a job at Google") == ["Their brother got a job at Google"]


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        # A slight line joins the statement it follows…
        ("RESULTS ARE BACK. it's benign!!!!", ["RESULTS ARE BACK, it's benign"]),
        (
            "minor corrections only!! the external actually liked chapter 4",
            ["Minor corrections only, the external actually liked chapter 4"],
        ),
        # …or, with none before it, the next one.
        (
            "been seeing someone actually. her name's Linda, she's from the salsa class",
            ["Been seeing someone actually, her name's Linda", "She's from the salsa class"],
        ),
        # What a pattern memory of the message already says joins nothing.
        (
            "my mum is 71, she's never had an operation",
            ["Their mum is 71", "Their mum has never had an operation"],
        ),
        # A slight line ending on "this" needs the other side's line; it joins nothing.
        (
            "I don't really know why I'm doing this. my mam died three weeks ago",
            ["Their mam died three weeks ago"],
        ),
    ],
)
def test_a_slight_line_joins_a_statement_of_the_same_message(said, expected):
    assert contents(said) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        # An abbreviation names something; a word of the user's life is enough beside a verb.
        ("MRI was all clear!!", ["MRI was all clear"]),
        ("they offered me the job!!", ["They offered them the job"]),
        # A past with its "I" left off says what the user did.
        ("I DID IT. graduated today!!", ["Graduated today"]),
        # Irregular pasts take no -s.
        ("I said yes straight away", ["Said yes straight away"]),
        # "bit of news" only opens the line.
        ("bit of news. dad's agreed to sell the farm.", ["Dad's agreed to sell the farm"]),
    ],
)
def test_short_lines_that_still_say_something(said, expected):
    assert contents(said) == expected


@pytest.mark.parametrize("said", ["terrified tbh", "loved it", "tried yoga", "omg. wow."])
def test_a_feeling_or_a_past_without_its_object_is_no_memory(said):
    assert contents(said) == []


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("the new job is great, gotta go", ["The new job is great"]),
        (
            "Got the keys to the new flat today!! ok bye for now",
            ["Got the keys to the new flat today"],
        ),
        # Only leave-taking goes, not a word that ends like it.
        ("my shift ends at midnight", ["Their shift ends at midnight"]),
        ("I'm going back to work next month", ["Is going back to work next month"]),
    ],
)
def test_leave_taking_at_the_end_of_a_line_goes(said, expected):
    assert contents(said) == expected
