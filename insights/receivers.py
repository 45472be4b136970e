"""What the insight profile hears from other apps (``eros.signals``)."""

from __future__ import annotations

from django.dispatch import receiver

from eros.signals import profile_slot_changed
from insights.services import insight_follow_slot


@receiver(profile_slot_changed, dispatch_uid="insights.follow_profile_slot")
def follow_profile_slot(sender, *, user_id, slot, value, replaced=None, **kwargs) -> None:
    """A user's own memory changed their city, job or name: the profile follows."""
    insight_follow_slot(user_id=user_id, slot=slot, value=value, replaced=replaced)
