"""Post-process: the affinity evaluator with its rule fallback, and the independent, bounded
retries of each part (DESIGN §5, §9 item 5)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule, Task

from companions import tasks
from companions.models import ChatMessage, CompanionAffinity, CompanionAffinityEvent
from companions.scopes import resolve_affinity_scope, resolve_memory_scope
from companions.services import affinity as affinity_service
from companions.services.chat_pipeline import turn_begin, turn_run
from companions.services.post_process import affinity_update_turn
from eros.llm.base import TASK_AFFINITY, TASK_CHAT, TASK_INSIGHT, ChatRequest, ProviderError
from eros.llm.fakes import FakeChatModel, FakeEmbedder
from eros.llm.offline.inputs import user_message_of
from insights.models import CompanionInsights
from memory.models import CompanionMemory
from tests.prompts import insight_step

EVALUATOR_MODEL = "anthropic/claude-haiku-4.5"  # fixtures/model_config.toml


def replied_turn(
    session, text="I really love hiking with my dog on Sundays", reply="Sounds lovely!"
):
    """A stored, replied turn whose post-process is only enqueued, not run."""
    user_message = turn_begin(session=session, content=text)
    with enqueue_only():
        turn_run(
            session=session,
            user_message=user_message,
            memory_scope=resolve_memory_scope(None),
            affinity_axes=resolve_affinity_scope(None),
            chat_model=FakeChatModel([reply]),
            embedder=FakeEmbedder(),
        )
    return user_message


@contextmanager
def enqueue_only():
    """django-q2 out of sync mode: enqueued tasks wait in the broker for a worker."""
    from django_q.conf import Conf

    sync, Conf.SYNC = Conf.SYNC, False
    try:
        yield
    finally:
        Conf.SYNC = sync


def rule_deltas(user_message) -> dict[str, float]:
    reply = ChatMessage.objects.get(reply_to_id=user_message.id, role="assistant")
    return reply.context["plan"]["rule_deltas"]


def evaluator(answer: str | ProviderError) -> FakeChatModel:
    if isinstance(answer, ProviderError):
        return FakeChatModel(error=answer, fail_on=range(1, 10))
    return FakeChatModel([answer])


# --- the evaluator ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_evaluator_deltas_are_clamped_applied_under_ema_and_explained(alice_session):
    user_message = replied_turn(alice_session)
    before = affinity_service.affinity_get_or_create(session=alice_session)
    answer = (
        "Sure! Here it is:\n```json\n"
        + json.dumps(
            {
                "warmth": 0.4,
                "trust": -0.3,
                "intrigue": 0.05,
                "patience": 0.9,
                "reason": "She felt\n  seen.",
                "mood": "great",
            }
        )
        + "\n```"
    )
    model = evaluator(answer)

    event = affinity_update_turn(user_message_id=user_message.id, chat_model=model)

    (request,) = model.requests
    assert request.task == TASK_AFFINITY and request.model == EVALUATOR_MODEL
    assert user_message_of(request) == user_message.content
    assert event.event_type == "message"
    assert event.context["source"] == "llm"
    assert event.context["reason"] == "She felt seen."
    assert event.context["model"] == EVALUATOR_MODEL
    assert event.context["user_message_id"] == str(user_message.id)
    assert "fallback_reason" not in event.context
    assert event.deltas == {
        "warmth": 0.15,
        "trust": -0.15,
        "intrigue": 0.05,
        "intimacy": 0.0,
        "patience": rule_deltas(user_message)["patience"],  # rule-owned, never the model's
        "tension": 0.0,
    }
    after = CompanionAffinity.objects.get(session=alice_session)
    inertia = event.context["inertia"]
    assert after.warmth == pytest.approx(before.warmth + (1 - inertia) * 0.15)
    assert after.trust == pytest.approx(before.trust - (1 - inertia) * 0.15)
    assert after.intrigue == pytest.approx(before.intrigue + (1 - inertia) * 0.05)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("I think she likes him more now.", "ValueError: evaluator answer holds no JSON object"),
        ("[0.1, 0.2]", "ValueError"),
        ('{"warmth": "high"}', "ValidationError"),
        ('{"warmth": true}', "ValidationError"),
        ('{"warmth": NaN}', "ValidationError"),
        ('{"warmth": Infinity}', "ValidationError"),
        ('{"reason": "nothing to report"}', "ValidationError"),
        ("{}", "ValidationError"),
        ('{"warmth": 0.1, "reason": {"text": "nested"}}', "ValidationError"),
    ],
    ids=["prose", "array", "string", "bool", "nan", "infinity", "no-axes", "empty", "reason"],
)
def test_invalid_evaluator_answers_fall_back_to_the_rule_deltas(alice_session, answer, reason):
    user_message = replied_turn(alice_session)

    event = affinity_update_turn(user_message_id=user_message.id, chat_model=evaluator(answer))

    assert event.context["source"] == "rules"
    assert event.context["fallback_reason"].startswith(reason)
    assert "reason" not in event.context and "model" not in event.context
    assert event.deltas == rule_deltas(user_message)
    assert CompanionAffinityEvent.objects.filter(affinity__session=alice_session).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("retryable", [True, False])
def test_a_failing_evaluator_falls_back_to_the_rules_at_once(alice_session, retryable):
    user_message = replied_turn(alice_session)
    error = ProviderError("openrouter: HTTP 503: overloaded", retryable=retryable, status=503)

    event = affinity_update_turn(user_message_id=user_message.id, chat_model=evaluator(error))

    assert event.context["source"] == "rules"
    assert event.context["fallback_reason"] == "ProviderError: openrouter: HTTP 503: overloaded"
    assert event.deltas == rule_deltas(user_message)


@pytest.mark.django_db
def test_a_message_too_short_to_judge_uses_the_rules_without_asking(alice_session):
    user_message = replied_turn(alice_session, text="ok")
    model = evaluator('{"warmth": 0.1}')

    event = affinity_update_turn(user_message_id=user_message.id, chat_model=model)

    assert model.calls == 0
    assert event.context == {
        **event.context,
        "source": "rules",
        "fallback_reason": "message too short to evaluate",
    }


@pytest.mark.django_db
def test_the_update_is_applied_once_per_user_message(alice_session):
    user_message = replied_turn(alice_session)
    model = evaluator('{"warmth": 0.1, "reason": "nice"}')

    first = affinity_update_turn(user_message_id=user_message.id, chat_model=model)
    warmth = CompanionAffinity.objects.get(session=alice_session).warmth
    second = affinity_update_turn(user_message_id=user_message.id, chat_model=model)

    assert second.id == first.id and model.calls == 1
    assert CompanionAffinity.objects.get(session=alice_session).warmth == warmth


@pytest.mark.django_db
def test_failed_and_unknown_turns_are_left_alone(alice_session):
    user_message = turn_begin(session=alice_session, content="hello there friend")
    ChatMessage.objects.filter(id=user_message.id).update(turn_status="failed")
    model = evaluator('{"warmth": 0.1}')
    assert affinity_update_turn(user_message_id=user_message.id, chat_model=model) is None
    assert affinity_update_turn(user_message_id=alice_session.id, chat_model=model) is None
    assert model.calls == 0
    assert not CompanionAffinityEvent.objects.exists()


# --- parts, retries and isolation --------------------------------------------------------------


def by_task(**answers):
    """A fake chat model answering per task (an exception instance is raised instead)."""

    def answer(request: ChatRequest) -> str:
        value = answers[request.task]
        if isinstance(value, dict):
            value = value[insight_step(request)]
        if isinstance(value, Exception):
            raise value
        return value

    return FakeChatModel(answer)


GOOD_INSIGHTS = {
    "facts": json.dumps({"facts": ["lives in Porto", "likes surfing"]}),
    "structure": json.dumps({"city": "Porto", "interests": ["surfing"]}),
}


@pytest.mark.django_db
def test_a_retryable_failure_schedules_the_next_attempt_with_doubling_delay(
    alice_session, settings
):
    settings.POST_PROCESS_RETRY_S = 30
    user_message = replied_turn(alice_session)
    embedder = FakeEmbedder()
    settings.EROS_EMBEDDER = embedder

    embedder.fail_next()
    first = tasks.post_process_part("memory", str(user_message.id), 1)
    embedder.fail_next()
    second = tasks.post_process_part("memory", str(user_message.id), 2)

    assert first == {"retry": 2, "in_s": 30, "error": "fake provider failure"}
    assert second["retry"] == 3 and second["in_s"] == 60
    assert not CompanionMemory.objects.exists()
    scheduled = {s.name: s for s in Schedule.objects.all()}
    assert set(scheduled) == {
        f"post-process memory {user_message.id} #2",
        f"post-process memory {user_message.id} #3",
    }
    retry = scheduled[f"post-process memory {user_message.id} #3"]
    assert retry.func == tasks.PART_FUNC and retry.schedule_type == Schedule.ONCE
    assert retry.args == repr(("memory", str(user_message.id), 3))
    expected = timezone.now() + timedelta(seconds=60)
    assert abs((retry.next_run - expected).total_seconds()) < 5


@pytest.mark.django_db
def test_the_last_attempt_raises_and_schedules_nothing(alice_session, settings):
    settings.POST_PROCESS_MAX_ATTEMPTS = 3
    user_message = replied_turn(alice_session)
    embedder = FakeEmbedder()
    settings.EROS_EMBEDDER = embedder
    embedder.fail_next()

    with pytest.raises(ProviderError):
        tasks.post_process_part("memory", str(user_message.id), 3)

    assert not Schedule.objects.exists() and not CompanionMemory.objects.exists()


@pytest.mark.django_db
def test_a_permanent_failure_raises_at_once(alice_session, settings):
    user_message = replied_turn(alice_session)
    embedder = FakeEmbedder()
    settings.EROS_EMBEDDER = embedder
    embedder.fail_next(ProviderError("voyage: 1024 dimensions", retryable=False))

    with pytest.raises(ProviderError):
        tasks.post_process_part("memory", str(user_message.id), 1)

    assert not Schedule.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_scheduled_attempt_runs_through_the_django_q_scheduler(alice_session, settings):
    from django_q.brokers import get_broker
    from django_q.scheduler import scheduler

    user_message = replied_turn(alice_session)
    embedder = FakeEmbedder()
    settings.EROS_EMBEDDER = embedder
    embedder.fail_next()
    tasks.post_process_part("insight", str(user_message.id), 1)
    Schedule.objects.update(next_run=timezone.now() - timedelta(seconds=1))

    scheduler(broker=get_broker())  # django-q2 sync mode runs the task in-process

    (memory,) = CompanionMemory.objects.filter(source_message_ids__contains=[user_message.id])
    assert memory.content == "Likes hiking with their dog"
    assert not Schedule.objects.exists()  # a one-off schedule is removed once it ran
    task = Task.objects.get(name=f"insight {user_message.id} #2")
    assert task.success and task.args == ("insight", str(user_message.id), 2)


@pytest.mark.django_db(transaction=True)
def test_one_failing_part_breaks_no_other(alice_session, settings, caplog):
    """Insight hits a permanent model error (given up); affinity still completes and the
    insight part still refreshes the lead score; nothing half-written."""
    user_message = replied_turn(alice_session)
    CompanionInsights.objects.create(
        user_id=alice_session.user_id, insights={"city": "Porto"}, training_level=0.05
    )
    settings.EROS_CHAT_MODEL = by_task(
        **{
            TASK_AFFINITY: '{"warmth": 0.1, "reason": "kind words"}',
            TASK_INSIGHT: ProviderError("HTTP 401: bad key", retryable=False, status=401),
        }
    )

    # Sync mode runs the parts in-process, so the insight error surfaces (and is skipped).
    assert tasks.post_process_turn(str(user_message.id)) == 1

    event = CompanionAffinityEvent.objects.get(affinity__session=alice_session)
    assert event.context["source"] == "llm" and event.context["reason"] == "kind words"
    alice_session.refresh_from_db()
    assert alice_session.lead_score == pytest.approx(0.5)
    assert CompanionInsights.objects.get(user_id=alice_session.user_id).insights == {
        "city": "Porto"
    }
    assert not CompanionMemory.objects.exists()
    assert not Schedule.objects.exists()
    assert f"post-process insight for {user_message.id} failed on attempt 1, giving up" in (
        caplog.text
    )
    done = {t.name: t.result for t in Task.objects.filter(success=True)}
    assert done[f"affinity {user_message.id}"] == "llm"
    assert f"lead {user_message.id}" not in done  # the insight part writes the lead score


@pytest.mark.django_db(transaction=True)
def test_an_embedding_outage_retries_the_insight_part_and_spares_affinity(alice_session, settings):
    user_message = replied_turn(alice_session)
    embedder = FakeEmbedder()
    embedder.fail_next()
    settings.EROS_EMBEDDER = embedder
    settings.EROS_CHAT_MODEL = by_task(
        **{
            TASK_AFFINITY: '{"warmth": 0.1, "reason": "kind words"}',
            TASK_INSIGHT: {
                "facts": '{"facts": ["likes hiking"], "moment": ""}',
                "structure": '{"profile": {"interests": ["hiking"]}}',
            },
        }
    )

    assert tasks.post_process_turn(str(user_message.id)) == 2

    assert CompanionAffinityEvent.objects.filter(affinity__session=alice_session).exists()
    # Nothing of the insight part was written: no stamp, no profile, no memory.
    user_message.refresh_from_db()
    assert user_message.extracted_facts is None
    assert not CompanionInsights.objects.filter(user_id=alice_session.user_id).exists()
    assert not CompanionMemory.objects.exists()
    assert Schedule.objects.get().name == f"post-process insight {user_message.id} #2"
    done = {t.name: t.result for t in Task.objects.filter(success=True)}
    assert done[f"insight {user_message.id}"]["retry"] == 2


@pytest.mark.django_db
def test_the_lead_score_part_follows_the_stored_training_level(alice_session):
    user_message = replied_turn(alice_session)
    CompanionInsights.objects.create(
        user_id=alice_session.user_id, insights={}, training_level=0.73
    )
    assert tasks.post_process_part("lead", str(user_message.id)) == pytest.approx(7.3)
    alice_session.refresh_from_db()
    assert alice_session.lead_score == pytest.approx(7.3)


@pytest.mark.django_db
def test_chat_replies_are_not_evaluated_by_the_chat_task(alice_session):
    # The evaluator is its own task with its own routing, never the persona's chat model.
    user_message = replied_turn(alice_session)
    model = by_task(**{TASK_AFFINITY: '{"trust": 0.05}', TASK_CHAT: "should not be asked"})
    affinity_update_turn(user_message_id=user_message.id, chat_model=model)
    assert [r.task for r in model.requests] == [TASK_AFFINITY]
