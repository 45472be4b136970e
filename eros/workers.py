"""Set-up of django-q2 worker processes.

Replies and post-process share the machine's CPU. A reply is what a user waits for;
post-process (affinity evaluation, insight and memory extraction) never blocks one and catches
up when the load drops. So each worker process lowers its own CPU priority by ``Q_NICE`` when it
starts: under a burst of turns the web process keeps the CPU and the queue absorbs the rest.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)


def lower_worker_priority(sender=None, proc_name: str = "", **kwargs) -> int:
    """django-q2 ``post_spawn`` receiver (runs in the new worker): add ``Q_NICE`` niceness.

    Returns the process's new niceness (unchanged when ``Q_NICE`` is 0).
    """
    from django.conf import settings

    increment = int(getattr(settings, "Q_NICE", 0))
    niceness = os.nice(increment) if increment else os.nice(0)
    logger.debug("worker %s runs at niceness %s", proc_name, niceness)
    return niceness
