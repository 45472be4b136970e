"""A turn built by the real pipeline, answered by the offline model: what it brings up."""

from __future__ import annotations

import pytest

from companions.scopes import resolve_affinity_scope, resolve_memory_scope
from companions.services.chat_pipeline import turn_begin, turn_run
from eros.llm.base import LAYER_PROFILE, LAYER_RELATIONSHIP
from eros.llm.fakes import FakeEmbedder, RecordingChatModel, unit_vector
from eros.llm.offline import OfflineChatModel
from memory.models import CompanionMemory

MESSAGE = "so anyway, guess what happened this afternoon"


def remember(session, content: str, seed: int, *, layer: str) -> CompanionMemory:
    return CompanionMemory.objects.create(
        session=session,
        user_id=session.user_id,
        instance_id=session.instance_id if layer == LAYER_RELATIONSHIP else None,
        content=content,
        category="fact" if layer == LAYER_PROFILE else "event",
        embedding=unit_vector(seed),
    )


@pytest.mark.django_db
def test_the_offline_reply_brings_up_the_relevant_memory_and_not_the_unrelated_one(
    alice_session,
):
    # The message embeds like the dog memory (cosine 1.0) and orthogonally to the city one
    # (cosine 0.0). Both are recalled; the unrelated one is a profile fact, which the
    # composer would otherwise prefer over a shared moment.
    remember(alice_session, "Lives in Lisbon", 8, layer=LAYER_PROFILE)
    remember(alice_session, "Has a dog called Biscuit", 7, layer=LAYER_RELATIONSHIP)
    model = RecordingChatModel(OfflineChatModel())

    outcome = turn_run(
        session=alice_session,
        user_message=turn_begin(session=alice_session, content=MESSAGE),
        memory_scope=resolve_memory_scope(None),
        affinity_axes=resolve_affinity_scope(None),
        chat_model=model,
        embedder=FakeEmbedder({MESSAGE: 7}),
    )

    assert "you have a dog called Biscuit" in outcome.reply
    assert "Lisbon" not in outcome.reply
    (request,) = model.requests
    # The pipeline hands over everything it recalled; choosing is the model's business.
    recalled = {(m.content, m.layer, round(m.similarity, 3)) for m in request.context.recalled}
    assert recalled == {
        ("Lives in Lisbon", LAYER_PROFILE, 0.0),
        ("Has a dog called Biscuit", LAYER_RELATIONSHIP, 1.0),
    }
    assert request.context.user_message == MESSAGE
    assert request.messages[-1].content == MESSAGE
