"""django-q2 entry points of the companions app: take ids, call a service.

``post_process_turn`` is the one task the reply path enqueues (on commit); it fans out into
independent tasks, so a failure in one part (say, the insight model) never blocks another
(say, the memory rows), and each is retried on its own by django-q2.
"""

from django_q.tasks import async_task

POST_PROCESS_PARTS = (
    "companions.tasks.affinity_update_turn",
    "memory.tasks.memory_write_turn",
    "insights.tasks.insight_update_turn",
)


def post_process_turn(user_message_id: str) -> int:
    for func in POST_PROCESS_PARTS:
        async_task(
            func,
            user_message_id,
            task_name=f"{func.rsplit('.', 1)[1]} {user_message_id}",
            group="post-process",
        )
    return len(POST_PROCESS_PARTS)


def affinity_update_turn(user_message_id: str) -> str | None:
    from companions.services.post_process import affinity_update_turn as update

    event = update(user_message_id=user_message_id)
    return event.context.get("source") if event else None


def turn_run_queued(user_message_id: str, memory_scope: str, affinity_axes: list[str]) -> str:
    from companions.services.chat_pipeline import turn_run_queued as run

    return run(
        user_message_id=user_message_id, memory_scope=memory_scope, affinity_axes=affinity_axes
    )
