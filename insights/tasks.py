"""Former django-q2 entry points of the insights app, kept for tasks queued before an upgrade.

Post-process now runs as ``companions.tasks.post_process_part``; these forward a task that
still names an old path to it by name (no import of the companions app), and go in the next
release.
"""


def insight_update_turn(user_message_id: str) -> str:
    """Forward an old insight part to ``companions.tasks.post_process_part``."""
    from django_q.tasks import async_task

    return async_task("companions.tasks.post_process_part", "insight", str(user_message_id), 1)


def lead_score_refresh_turn(user_message_id: str) -> str:
    """Forward an old lead-score part (now done by the insight part)."""
    from django_q.tasks import async_task

    return async_task("companions.tasks.post_process_part", "lead", str(user_message_id), 1)
