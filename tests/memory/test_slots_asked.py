"""Questions that ask for a slot (``memory.questions``) and recall's rule that ranks the asked
slot's current memory first in its list, after pinned rows (memory.selectors, "Asked")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from eros.llm.fakes import unit_vector
from memory.models import CompanionMemory
from memory.questions import asks_about_now, slot_is_asked, slots_asked
from memory.selectors import memory_recall
from memory.services.writes import MemoryDraft, memory_upsert_many
from tests.memory.test_supersession import between

WORK = ("occupation", "workplace")


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        # Work: both slots, the job and where it is done.
        ("What do I do for a living?", WORK),
        ("What's my job?", WORK),
        ("Whats my job", WORK),
        ("What's my new job?", WORK),
        ("What's my role at work now?", WORK),
        ("What do I do for work now?", WORK),
        ("What do I do?", WORK),
        ("Remind me what I do for a living", WORK),
        ("Where do I work?", WORK),
        ("Am I still working?", WORK),
        ("What job do I have?", WORK),
        ("What languages do I work with?", WORK),
        ("What's the restaurant I work at called?", WORK),
        ("What do I do on Wednesday evenings?", ()),
        ("What job does my sister have?", ()),
        ("What did my father do for a living?", ()),
        ("Do I work out?", ()),
        ("I hate my job.", ()),
        # Where the user lives.
        ("Where do I live?", ("city",)),
        ("Which city do I live in?", ("city",)),
        ("Which city am I living in?", ("city",)),
        ("Where am I staying at the moment?", ("city",)),
        ("Where's home for me?", ("city",)),
        ("What's my address?", ("city",)),
        ("hey noor, where do I live", ("city",)),
        ("Who do I live with?", ()),
        ("Do I still live with my mum and dad?", ()),
        ("What's my hometown?", ()),
        ("Where does my dad live?", ()),
        # Name and age.
        ("What's my name?", ("name",)),
        ("What am I called?", ("name",)),
        ("What should you call me?", ("name",)),
        ("What's your name?", ()),
        ("How old am I?", ("age",)),
        ("How old will I be next year?", ("age",)),
        # Relationship status.
        ("Am I single?", ("relationship_status",)),
        ("Who am I married to?", ("relationship_status",)),
        ("Do I have a girlfriend?", ("relationship_status",)),
        ("Who am I seeing?", ("relationship_status",)),
        ("Did we break up?", ("relationship_status",)),
        ("What does my wife do?", ("relationship_status",)),
        ("What's my partner's name?", ("relationship_status", "name:partner")),
        ("What is my fiancée called?", ("relationship_status", "name:fiancée")),
        ("Who's my dance partner?", ()),
        # Pets: a species' slot, or every pet slot (the prefix "pet:").
        ("Is my kitten ok?", ("pet:cat",)),
        ("Is my cat still alive?", ("pet:cat",)),
        ("How old is my dog?", ("pet:dog",)),
        ("What are my bunnies' names?", ("pet:rabbit",)),
        ("How many cats do I have?", ("pet:cat",)),
        ("What's my guinea pig called?", ("pet:guinea pig",)),
        ("What's our dog called?", ("pet:dog",)),
        ("What pets do we have?", ("pet:",)),
        ("Do I have any pets?", ("pet:",)),
        ("What's my sister's cat called?", ()),
        ("Does the neighbours' parrot still whistle?", ()),
        ("Am I an early bird?", ()),
        ("Do I like hot dogs?", ()),
        ("What's my pet peeve?", ()),
        # Named things.
        ("What did I name my car?", ("name:car",)),
        ("What did I name my new car again?", ("name:car",)),
        ("What's the name of my boat?", ("name:boat",)),
        ("What's my grandson called?", ("name:grandson",)),
        ("What are my kids' names?", ("name:kids",)),
        ("What's my boss's name?", ("name:boss",)),
        ("Who's my boss?", ()),
        # Several questions in one message; questions about nothing the rules know.
        ("Where am I based these days? And what's my cat called?", ("city", "pet:cat")),
        ("Where do I live? Where do I work?", (*WORK, "city")),
        ("What did I eat yesterday?", ()),
        ("What instrument am I learning?", ()),
        ("¿Dónde vivo?", ()),
        ("", ()),
        (None, ()),
    ],
)
def test_slots_asked(question, asked):
    assert slots_asked(question) == asked


def test_a_prefix_asks_for_every_slot_it_starts():
    assert slot_is_asked("pet:dog", ("pet:",)) is True
    assert slot_is_asked("pet:guinea pig", ("pet:",)) is True
    assert slot_is_asked("name:boat", ("pet:",)) is False
    assert slot_is_asked("occupation", WORK) is True
    assert slot_is_asked("occupation:extra", WORK) is False
    assert slot_is_asked(None, WORK) is False


# --- recall ---------------------------------------------------------------------------------


AT = timezone.now() - timedelta(days=3)


def write(session, content, vector, *, category="fact", at=AT, layer="profile"):
    """One memory through the writer (which fills its slot), importance fixed so that only the
    vector and the text decide the score."""
    (written,) = memory_upsert_many(
        [
            MemoryDraft(
                session_id=session.id,
                user_id=session.user_id,
                instance_id=session.instance_id if layer == "relationship" else None,
                content=content,
                embedding=vector,
                category=category,
                occurred_at=at,
                importance=0.5,
            )
        ]
    )
    return written.memory


def recall(session, question, **options):
    """Recall for ``question`` embedded as ``unit_vector(1)``: category → hits, and the
    relationship hits."""
    result = memory_recall(
        user_id=session.user_id,
        instance_id=session.instance_id,
        query_vector=unit_vector(1),
        query_text=question,
        now=timezone.now(),
        **options,
    )
    return dict(result.profile_groups), result.relationship


@pytest.fixture
def living(session):
    """A paramedic's memories: the job is orthogonal to the query vector and shares no word
    with "What do I do for a living?"; two rows without a slot are close to it and share
    "living"; one event is as close as can be."""
    return {
        "job": write(session, "Works as a paramedic", unit_vector(7)),
        "sun": write(session, "The living room gets the morning sun", unit_vector(1)),
        "alone": write(session, "Finds living alone peaceful", between(1, 2, 0.9)),
        "marathon": write(session, "Ran a half marathon", unit_vector(1), category="event"),
    }


@pytest.mark.django_db
def test_the_job_comes_first_for_a_living_question_though_others_score_better(session, living):
    assert living["job"].slot == "occupation"

    groups, _ = recall(session, "What do I do for a living?")

    facts = groups["fact"]
    assert [h.content for h in facts] == [
        "Works as a paramedic",
        "The living room gets the morning sun",
    ]
    assert [h.asked for h in facts] == [True, False]
    assert facts[0].score < facts[1].score  # a rule, not a better score
    assert facts[0].text_rank == 0.0 and facts[1].text_rank > 0.0
    # The other lists are ranked as before.
    assert [(h.content, h.asked) for h in groups["event"]] == [("Ran a half marathon", False)]


@pytest.mark.django_db
def test_a_question_asking_no_slot_keeps_the_score_order(session, living):
    groups, _ = recall(session, "What did I eat yesterday?", k_per_category=3)

    facts = groups["fact"]
    assert [h.content for h in facts] == [
        "The living room gets the morning sun",
        "Finds living alone peaceful",
        "Works as a paramedic",
    ]
    assert [h.asked for h in facts] == [False, False, False]
    assert facts[0].score > facts[1].score > facts[2].score


@pytest.mark.django_db
def test_a_statement_about_a_job_asks_nothing(session, living):
    groups, _ = recall(session, "I love living by the sea, my job is hard.", k_per_category=3)

    assert [h.content for h in groups["fact"]][-1] == "Works as a paramedic"


@pytest.mark.django_db
def test_a_superseded_job_is_not_recalled_and_never_counts_as_asked(session, living):
    teacher = write(session, "Works as a teacher", unit_vector(8), at=AT + timedelta(days=1))
    job = CompanionMemory.objects.get(id=living["job"].id)
    assert job.superseded_by_id == teacher.id and job.valid_to == AT + timedelta(days=1)

    groups, _ = recall(session, "What do I do for a living?", k_per_category=4)
    assert [(h.content, h.asked) for h in groups["fact"]] == [
        ("Works as a teacher", True),
        ("The living room gets the morning sun", False),
        ("Finds living alone peaceful", False),
    ]

    groups, _ = recall(session, "What do I do for a living?", k_per_category=4, superseded=True)
    facts = [(h.content, h.asked) for h in groups["fact"]]
    assert facts[0] == ("Works as a teacher", True)
    assert ("Works as a paramedic", False) in facts[1:]


@pytest.mark.django_db
def test_pinned_rows_still_come_before_asked_ones(session, living):
    pinned = CompanionMemory.objects.create(
        session=None,
        user_id=session.user_id,
        content="Plays the cello",
        embedding=unit_vector(9),
        category="fact",
        pinned=True,
    )

    groups, _ = recall(session, "What do I do for a living?", k_per_category=3)

    assert [(h.id, h.pinned, h.asked) for h in groups["fact"]] == [
        (pinned.id, True, False),
        (living["job"].id, False, True),
        (living["sun"].id, False, False),
    ]


@pytest.mark.django_db
def test_a_question_about_pets_lifts_every_pet_slot_in_score_order(session):
    dog = write(session, "Has a dog called Biscuit", unit_vector(7))
    kitten = write(session, "Has a kitten called Pepper", between(1, 8, 0.5))
    walks = write(session, "Loves long walks on the beach", unit_vector(1))
    assert (dog.slot, kitten.slot, walks.slot) == ("pet:dog", "pet:cat", None)

    groups, _ = recall(session, "What pets do we have?", k_per_category=3)
    assert [h.id for h in groups["fact"]] == [kitten.id, dog.id, walks.id]

    groups, _ = recall(session, "What's my kitten called?", k_per_category=3)
    assert [h.id for h in groups["fact"]] == [kitten.id, walks.id, dog.id]


@pytest.mark.django_db
def test_the_relationship_list_lifts_an_asked_slot_too(session):
    close = write(
        session, "Sang along to a live album together", unit_vector(1), layer="relationship"
    )
    city = write(session, "Lives in Leeds", unit_vector(9), layer="relationship")
    assert (city.slot, close.slot) == ("city", None)

    _, relationship = recall(session, "Where do I live?", k_relationship=2)

    assert [(h.id, h.asked) for h in relationship] == [(city.id, True), (close.id, False)]
    assert relationship[0].score < relationship[1].score


@pytest.mark.django_db
def test_asking_costs_no_extra_query(session, living, django_assert_num_queries):
    with django_assert_num_queries(1):
        groups, _ = recall(session, "What do I do for a living?")
    assert groups["fact"][0].asked is True


@pytest.mark.parametrize(
    ("question", "keys"),
    [
        ("Where does Leila live now?", ("city:leila",)),
        ("What does Marisol do?", ("occupation:marisol",)),
        ("What's Kwame's job?", ("occupation:kwame",)),
        ("What's Marisol's rank now?", ("occupation:marisol",)),
        ("Where does he live?", ()),
        ("Where does my sister live?", ()),
        ("What did you do today?", ()),
    ],
)
def test_a_named_ones_home_and_job_are_asked_by_name(question, keys):
    assert slots_asked(question) == keys


@pytest.mark.parametrize(
    ("text", "now"),
    [
        ("Where am I living at the moment?", True),
        ("What do I play these days?", True),
        ("Has my sister had her baby yet?", True),
        ("Am I still a student?", True),
        ("What's Marisol's rank now?", True),
        ("is she currently seeing anyone", True),
        ("Where did I grow up?", False),
        ("What did I have for dinner on my birthday?", False),
        # Only questions ask: a statement about now asks nothing.
        ("I'm still thinking about it.", False),
        ("", False),
        (None, False),
    ],
)
def test_asks_about_now(text, now):
    assert asks_about_now(text) is now
