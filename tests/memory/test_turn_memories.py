"""Memories, not transcripts: what a turn and a dreaming pass leave behind (DESIGN §5, §7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from companions.models import ChatMessage
from companions.services.dreaming import dreaming_distil_session
from companions.services.post_process import insight_update_turn
from eros.llm.fakes import FakeEmbedder
from eros.llm.offline import OfflineChatModel
from memory.models import CompanionMemory
from memory.selectors import memory_recall

QUESTIONS_AND_ACKS = [
    "Where do I live?",
    "Do you remember what my dog is called?",
    "What do I do for work again?",
    "ok thanks",
    "haha",
    "good night!",
    "hey",
    "Am I a night owl, do you think?",
]


def _turn(session, text, at):
    user = ChatMessage.objects.create(
        session=session,
        role=ChatMessage.ROLE_USER,
        content=text,
        sent_at=at,
        turn_status=ChatMessage.TURN_REPLIED,
    )
    ChatMessage.objects.create(
        session=session,
        role=ChatMessage.ROLE_ASSISTANT,
        content="Tell me more.",
        sent_at=at + timedelta(seconds=2),
        reply_to_id=user.id,
    )
    return user


@pytest.mark.django_db
def test_no_question_or_acknowledgement_becomes_a_memory(session):
    model, embedder = OfflineChatModel(), FakeEmbedder()
    start = timezone.now() - timedelta(hours=2)
    for index, text in enumerate(QUESTIONS_AND_ACKS):
        message = _turn(session, text, start + timedelta(minutes=index))
        insight_update_turn(user_message_id=message.id, chat_model=model, embedder=embedder)
    outcome = dreaming_distil_session(session_id=session.id, chat_model=model, embedder=embedder)

    assert outcome.status == "distilled"
    assert not CompanionMemory.objects.exists()
    # The turns were read (stamped), they just held nothing worth remembering.
    assert not ChatMessage.objects.filter(role="user", extracted_facts__isnull=True).exists()


@pytest.mark.django_db
def test_statements_become_third_person_memories_and_never_the_line_itself(session):
    model, embedder = OfflineChatModel(), FakeEmbedder()
    start = timezone.now() - timedelta(hours=2)
    said = [
        "Hi! I'm Marta. I live in Lisbon, in a tiny flat near the river.",
        "Where do I live, do you remember?",
        "I teach maths at a secondary school, so evenings are my only free time.",
        "I'm so nervous about my interview tomorrow.",
        "ok thanks",
    ]
    for index, text in enumerate(said):
        message = _turn(session, text, start + timedelta(minutes=index))
        insight_update_turn(user_message_id=message.id, chat_model=model, embedder=embedder)
    dreaming_distil_session(session_id=session.id, chat_model=model, embedder=embedder)

    memories = CompanionMemory.objects.filter(user_id=session.user_id)
    contents = set(memories.values_list("content", flat=True))
    assert {
        "Their name is Marta",
        "Lives in Lisbon",
        "Teaches maths at a secondary school, so evenings are their only free time",
    } <= contents
    # The moment went to the relationship layer, in the third person.
    moment = memories.get(instance_id=session.instance_id)
    assert moment.content == "Shared: feels nervous about their interview tomorrow"
    assert moment.category == "emotion"
    lines = {m.content.strip() for m in ChatMessage.objects.filter(role="user")}
    for memory in memories:
        assert memory.content not in lines
        assert not memory.content.endswith("?")
        assert memory.category is not None
        assert memory.source_message_ids


@pytest.mark.django_db
def test_raw_rows_of_older_versions_are_never_recalled_by_default(session):
    embedder = FakeEmbedder({"User: I live in Lisbon\nNoor: Nice": 3, "Lives in Lisbon": 3})
    for content, category in (
        ("User: I live in Lisbon\nNoor: Nice", None),
        ("Lives in Lisbon", "fact"),
    ):
        CompanionMemory.objects.create(
            session=session,
            user_id=session.user_id,
            content=content,
            category=category,
            embedding=embedder.embed_documents([content])[0],
        )
    vector = embedder.embed_query("Lives in Lisbon")

    def recalled(**flags):
        result = memory_recall(
            user_id=session.user_id,
            instance_id=session.instance_id,
            query_vector=vector,
            query_text="where do I live",
            now=timezone.now(),
            **flags,
        )
        return {hit.content for hit in result.all_hits}

    assert recalled() == {"Lives in Lisbon"}
    assert recalled(raw=True) == {"Lives in Lisbon"}  # categorised rows come first
    CompanionMemory.objects.filter(category="fact").delete()
    assert recalled() == set()
    assert recalled(raw=True) == {"User: I live in Lisbon\nNoor: Nice"}
