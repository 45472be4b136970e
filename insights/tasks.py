"""django-q2 entry points of the insights app: take ids, call a service."""


def insight_update_turn(user_message_id: str) -> list[str]:
    """The insight part of post-process; returns the names of the fields merged."""
    from insights.services import insight_update_turn as update

    return sorted(update(user_message_id=user_message_id))


def lead_score_refresh_turn(user_message_id: str) -> float | None:
    """The lead-score part of post-process; returns the stored score."""
    from insights.services import lead_score_refresh_turn as refresh

    return refresh(user_message_id=user_message_id)
