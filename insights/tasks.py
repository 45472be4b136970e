"""django-q2 entry points of the insights app."""


def insight_update_turn(user_message_id: str) -> list[str]:
    from insights.services import insight_update_turn as update

    return sorted(update(user_message_id=user_message_id))
