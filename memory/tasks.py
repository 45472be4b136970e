"""django-q2 entry points of the memory app: take ids, call a service."""


def memory_write_turn(user_message_id: str) -> int:
    from memory.services import memory_write_turn as write

    return len(write(user_message_id=user_message_id))


def dreaming_tick() -> int:
    """Scheduled dreaming run: distil idle sessions within a time budget."""
    from django.conf import settings

    from memory.services.dreaming import dreaming_sweep

    if settings.DREAMING_DISABLED:
        return 0
    return dreaming_sweep(max_seconds=max(settings.DREAMING_TICK_SECS * 0.8, 10))
