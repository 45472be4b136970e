"""Set-up of django-q2 cluster processes.

Replies and post-process share the machine's CPU. A reply is what a user waits for;
post-process (affinity evaluation, insight and memory extraction, storing task results) never
blocks one and catches up when the load drops. So a ``qcluster`` process lowers its own CPU
priority by ``Q_NICE`` as it starts, before it forks its sentinel, pusher, monitor and
workers, which inherit it: under a burst of turns the web process keeps the CPU and the
queue absorbs the rest.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

logger = logging.getLogger(__name__)


def lower_cluster_priority(argv: Sequence[str] | None = None) -> int | None:
    """In a ``manage.py qcluster`` process, add ``Q_NICE`` niceness; return the new niceness.

    Returns None (and changes nothing) in any other process: the command is read from
    ``argv`` (default ``sys.argv``), since django-q2 offers no hook before it forks.
    """
    from django.conf import settings

    argv = sys.argv if argv is None else argv
    if len(argv) < 2 or argv[1] != "qcluster":
        return None
    niceness = os.nice(int(getattr(settings, "Q_NICE", 0)))
    logger.debug("django-q2 cluster runs at niceness %s", niceness)
    return niceness
