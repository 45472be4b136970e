"""The stuck-turn sweeper: a turn whose worker timed out or died ends ``failed``, once.

A turn is stuck when its user message is still ``pending`` ``TURN_STALE_AFTER_S`` after it was
stored. The sweeper (scheduled, or on a poll of the pending route) fails it with one
``system_error`` row; a worker that finishes later adds nothing, and a worker that finished
first keeps its outcome.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone
from django_q.models import Schedule

from companions import tasks
from companions.models import ChatMessage
from companions.scopes import resolve_affinity_scope, resolve_memory_scope
from companions.services.chat_pipeline import (
    TurnAlreadyHandled,
    turn_begin,
    turn_finish_reply,
    turn_prepare,
    turn_run_queued,
)
from companions.services.turn_sweeper import (
    SCHEDULE_NAME,
    turn_fail_if_stale,
    turn_sweep_schedule_ensure,
    turns_fail_stale,
)
from eros.llm.base import ProviderError
from eros.llm.fakes import FakeChatModel


def _poll(client, session, message_id):
    return client.get(f"/comp/chat/{session.id}/pending/{message_id}")


def _stuck_turn(session, settings, *, extra_s: float = 5.0) -> ChatMessage:
    """A user message stored ``TURN_STALE_AFTER_S + extra_s`` seconds ago, still pending."""
    sent = timezone.now() - timedelta(seconds=settings.TURN_STALE_AFTER_S + extra_s)
    return turn_begin(session=session, content="are you there?", now=sent)


def _outcome(message: ChatMessage) -> tuple[str, int, int]:
    """(turn_status, system_error rows, assistant rows) of one turn, read from the database."""
    rows = ChatMessage.objects.filter(reply_to_id=message.id)
    return (
        ChatMessage.objects.get(id=message.id).turn_status,
        rows.filter(role="system_error").count(),
        rows.filter(role="assistant").count(),
    )


@pytest.mark.django_db
def test_a_turn_pending_past_the_limit_is_failed_with_one_system_error_row(
    alice_session, client_for, alice, settings
):
    stuck = _stuck_turn(alice_session, settings)

    assert turns_fail_stale() == 1

    assert _outcome(stuck) == ("failed", 1, 0)
    error_row = ChatMessage.objects.get(reply_to_id=stuck.id)
    assert error_row.session_id == alice_session.id
    assert error_row.content.startswith("reply failed: no outcome within")
    assert error_row.context == {
        "stuck_turn": True,
        "stale_after_s": settings.TURN_STALE_AFTER_S,
    }
    polled = _poll(client_for(alice), alice_session, stuck.id)
    assert polled.status_code == 200
    assert polled.json() == {"status": "error", "message": None}
    assert turns_fail_stale() == 0  # a second run finds nothing
    assert _outcome(stuck) == ("failed", 1, 0)


@pytest.mark.django_db
def test_fresh_pending_turns_are_left_alone(alice_session, client_for, alice, settings):
    fresh = turn_begin(session=alice_session, content="hi")
    almost = _stuck_turn(alice_session, settings, extra_s=-10.0)

    assert turns_fail_stale() == 0

    client = client_for(alice)
    for message in (fresh, almost):
        assert _outcome(message) == ("pending", 0, 0)
        assert _poll(client, alice_session, message.id).json() == {
            "status": "processing",
            "message": None,
        }
    assert _outcome(fresh) == ("pending", 0, 0)  # polling did not fail them either
    assert not ChatMessage.objects.filter(role="system_error").exists()


@pytest.mark.django_db
def test_only_stuck_turns_are_failed_among_many(alice_session, settings):
    stuck = [_stuck_turn(alice_session, settings, extra_s=i) for i in range(1, 4)]
    fresh = turn_begin(session=alice_session, content="hi")
    replied = _stuck_turn(alice_session, settings)
    ChatMessage.objects.filter(id=replied.id).update(turn_status="replied")

    assert turns_fail_stale() == 3

    assert [_outcome(m) for m in stuck] == [("failed", 1, 0)] * 3
    assert _outcome(fresh) == ("pending", 0, 0)
    assert _outcome(replied) == ("replied", 0, 0)


@pytest.mark.django_db
def test_polling_a_stuck_turn_fails_it_even_without_the_schedule(
    alice_session, client_for, alice, settings
):
    stuck = _stuck_turn(alice_session, settings)
    client = client_for(alice)

    for _ in range(2):
        polled = _poll(client, alice_session, stuck.id)
        assert polled.status_code == 200
        assert polled.json() == {"status": "error", "message": None}

    assert _outcome(stuck) == ("failed", 1, 0)


@pytest.mark.django_db
def test_a_queued_turn_that_runs_after_the_sweep_adds_nothing(
    alice_session, client_for, alice, settings, django_capture_on_commit_callbacks
):
    settings.EROS_CHAT_MODEL = fake = FakeChatModel(["too late"])
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(
            f"/comp/chat/{alice_session.id}/message_async", {"message": "hi"}, format="json"
        )
    message = ChatMessage.objects.get(id=response.json()["user_message_id"])
    # The worker never got to it in time (a backed-up queue, a dead worker).
    old = timezone.now() - timedelta(seconds=settings.TURN_STALE_AFTER_S + 1)
    ChatMessage.objects.filter(id=message.id).update(sent_at=old)
    assert turns_fail_stale() == 1

    queued[0]()  # the task is finally delivered

    assert _outcome(message) == ("failed", 1, 0)
    assert fake.calls == 0
    assert _poll(client, alice_session, message.id).json()["status"] == "error"


@pytest.mark.django_db
def test_a_task_delivered_after_the_turn_went_stale_fails_it_without_a_model_call(
    alice_session, settings
):
    settings.EROS_CHAT_MODEL = fake = FakeChatModel(["too late"])
    stuck = _stuck_turn(alice_session, settings)  # no sweep has run yet

    status = turn_run_queued(user_message_id=stuck.id, memory_scope="full", affinity_axes=[])

    assert status == "failed" and fake.calls == 0
    assert _outcome(stuck) == ("failed", 1, 0)
    assert ChatMessage.objects.get(reply_to_id=stuck.id).context["stuck_turn"] is True


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_answers_after_the_sweep_adds_no_reply(alice_session, settings):
    """The sweep runs while the worker waits for the model (its turn looked dead)."""
    message = turn_begin(session=alice_session, content="hello?")

    def slow_model(request):
        if request.task == "chat_companion":
            assert turns_fail_stale(stale_after_s=0) == 1
        return "finally here"

    settings.EROS_CHAT_MODEL = FakeChatModel(slow_model)

    status = turn_run_queued(user_message_id=message.id, memory_scope="full", affinity_axes=[])

    assert status == "failed"
    assert _outcome(message) == ("failed", 1, 0)


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_model_fails_after_the_sweep_writes_no_second_error(alice_session, settings):
    message = turn_begin(session=alice_session, content="hello?")

    def failing_model(request):
        assert turns_fail_stale(stale_after_s=0) == 1
        raise ProviderError("provider down", retryable=True, status=503)

    settings.EROS_CHAT_MODEL = FakeChatModel(failing_model)

    status = turn_run_queued(user_message_id=message.id, memory_scope="full", affinity_axes=[])

    assert status == "failed"
    assert _outcome(message) == ("failed", 1, 0)
    assert ChatMessage.objects.get(reply_to_id=message.id).context["stuck_turn"] is True


@pytest.mark.django_db
def test_a_prepared_turn_cannot_take_a_reply_once_swept(alice_session, settings):
    message = turn_begin(session=alice_session, content="hello?")
    prepared = turn_prepare(
        session=alice_session,
        user_message=message,
        memory_scope=resolve_memory_scope("full"),
        affinity_axes=resolve_affinity_scope(None),
    )
    assert prepared.request is not None
    turns_fail_stale(stale_after_s=0)

    with pytest.raises(TurnAlreadyHandled):
        turn_finish_reply(prepared=prepared, text="late", model="m")

    assert _outcome(message) == ("failed", 1, 0)


@pytest.mark.django_db
def test_the_sweeper_loses_cleanly_when_the_reply_won_first(
    alice_session, client_for, alice, settings
):
    settings.EROS_CHAT_MODEL = FakeChatModel(["here I am"])
    client = client_for(alice)
    response = client.post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hi"}, format="json"
    )
    assert response.status_code == 200, response.content
    message = ChatMessage.objects.get(id=response.json()["user_message_id"])
    old = timezone.now() - timedelta(seconds=settings.TURN_STALE_AFTER_S + 60)
    ChatMessage.objects.filter(id=message.id).update(sent_at=old)
    message.refresh_from_db()

    assert turns_fail_stale() == 0
    assert turn_fail_if_stale(user_message=message) is False

    assert _outcome(message) == ("replied", 0, 1)
    assert _poll(client, alice_session, message.id).json()["status"] == "completed"


def _in_thread(fn):
    """Run ``fn`` in a thread with its own database connection; returns (thread, result)."""
    result: dict = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as exc:  # surfaced by the test's assertions
            result["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


@pytest.mark.django_db(transaction=True)
def test_a_reply_being_written_wins_over_a_concurrent_sweep(alice_session, settings):
    """Real row locks: the worker's claim holds the row while both sweepers run."""
    message = _stuck_turn(alice_session, settings)
    claimed = threading.Event()
    release = threading.Event()

    def worker():
        # What _persist_reply does: claim the pending row, then write, then commit.
        with transaction.atomic():
            won = ChatMessage.objects.filter(id=message.id, turn_status="pending").update(
                turn_status="replied"
            )
            claimed.set()
            release.wait(10)
            ChatMessage.objects.create(
                session_id=alice_session.id,
                role="assistant",
                content="just in time",
                reply_to_id=message.id,
            )
        return won

    worker_thread, worker_result = _in_thread(worker)
    assert claimed.wait(10)

    # The scheduled sweep skips the locked row at once rather than waiting for it.
    started = time.monotonic()
    assert turns_fail_stale() == 0
    assert time.monotonic() - started < 5

    # The poll's check waits for the worker's transaction, then sees it replied.
    poll_thread, poll_result = _in_thread(lambda: turn_fail_if_stale(user_message=message))
    poll_thread.join(0.5)
    assert poll_thread.is_alive()  # blocked on the worker's row lock
    release.set()
    worker_thread.join(10)
    poll_thread.join(10)

    assert worker_result == {"value": 1}
    assert poll_result == {"value": False}
    assert _outcome(message) == ("replied", 0, 1)


@pytest.mark.django_db(transaction=True)
def test_a_sweep_being_written_wins_over_a_concurrent_reply(alice_session, settings):
    message = _stuck_turn(alice_session, settings)
    swept = threading.Event()
    release = threading.Event()

    def sweeper():
        with transaction.atomic():
            won = turn_fail_if_stale(user_message=ChatMessage.objects.get(id=message.id))
            swept.set()
            release.wait(10)
        return won

    sweep_thread, sweep_result = _in_thread(sweeper)
    assert swept.wait(10)
    prepared_message = ChatMessage.objects.get(id=message.id)
    settings.EROS_CHAT_MODEL = FakeChatModel(["late"])
    worker_thread, worker_result = _in_thread(
        lambda: turn_run_queued(
            user_message_id=prepared_message.id, memory_scope="none", affinity_axes=[]
        )
    )
    worker_thread.join(1.0)
    release.set()
    sweep_thread.join(10)
    worker_thread.join(30)

    assert sweep_result == {"value": True}
    assert worker_result == {"value": "failed"}
    assert _outcome(message) == ("failed", 1, 0)


@pytest.mark.django_db(transaction=True)
def test_the_schedule_runs_the_sweeper_through_django_q(alice_session, settings):
    from django_q.brokers import get_broker
    from django_q.scheduler import scheduler

    stuck = _stuck_turn(alice_session, settings)
    assert "every minute" in turn_sweep_schedule_ensure()
    turn_sweep_schedule_ensure()  # idempotent
    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "companions.tasks.turn_sweep_tick",
        Schedule.MINUTES,
        1,
        -1,
    )
    Schedule.objects.filter(id=schedule.id).update(next_run=timezone.now() - timedelta(seconds=1))

    scheduler(broker=get_broker())  # django-q2 sync mode runs the task in-process

    assert _outcome(stuck) == ("failed", 1, 0)
    assert Schedule.objects.filter(name=SCHEDULE_NAME).exists()  # it repeats
    assert tasks.turn_sweep_tick() == 0


@pytest.mark.django_db
def test_a_sync_turn_the_sweeper_failed_meanwhile_answers_409_not_500(
    alice_session, client_for, alice, settings
):
    def swept_while_answering(request):
        # The sweeper (or any other settlement) fails the turn while the model is answering.
        ChatMessage.objects.filter(
            session=alice_session, role=ChatMessage.ROLE_USER, turn_status="pending"
        ).update(turn_status=ChatMessage.TURN_FAILED)
        return "too late"

    settings.EROS_CHAT_MODEL = FakeChatModel(swept_while_answering)

    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hello?"}, format="json"
    )

    assert response.status_code == 409, response.content
    assert response.json()["error"] == "conflict"
    (user,) = ChatMessage.objects.filter(session=alice_session, role=ChatMessage.ROLE_USER)
    assert user.turn_status == ChatMessage.TURN_FAILED  # the message is kept, failed once
    assert not ChatMessage.objects.filter(
        session=alice_session, role=ChatMessage.ROLE_ASSISTANT, reply_to_id=user.id
    ).exists()
