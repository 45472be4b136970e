"""Former django-q2 entry points of the memory app, kept for tasks queued before an upgrade.

Post-process and the dreaming loop now run from ``companions.tasks``; these forward a task or
schedule that still names an old path to its new one by name (no import of the companions
app), and go in the next release. Starting eros (``manage.py up``) rewrites the dreaming
schedule to the new path.
"""


def memory_write_turn(user_message_id: str) -> str:
    """Forward an old memory part to ``companions.tasks.post_process_part``."""
    from django_q.tasks import async_task

    return async_task("companions.tasks.post_process_part", "memory", str(user_message_id), 1)


def dreaming_tick() -> str:
    """Forward an old dreaming schedule run to ``companions.tasks.dreaming_tick``."""
    from django_q.tasks import async_task

    return async_task("companions.tasks.dreaming_tick")
