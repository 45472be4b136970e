"""Routes of the development playground that need the engine (``/playground/…``).

Like the playground page (``eros.playground``), every route here answers a JSON 404 while the
playground is off, and always in production, before looking at the token, so it is absent
rather than forbidden. When on, it takes the bearer token of the public API and acts for its
user only.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from companions.services.dream_now import session_dream_now
from eros.errors import NotFound
from eros.playground import playground_on


class PlaygroundOnlyMixin:
    """404 ``not_found`` unless the playground is on (development only)."""

    def initial(self, request, *args, **kwargs):
        if not playground_on():
            raise NotFound(f"no route for {request.path}")
        super().initial(request, *args, **kwargs)


@extend_schema(exclude=True)  # development only: not part of the API contract
class PlaygroundDreamApi(PlaygroundOnlyMixin, APIView):
    """Distil the caller's session now, idle or not, and return what was remembered.

    ``status`` is dreaming's outcome (``distilled``, ``empty``, ``unparsable``, ``retry``,
    ``given_up``), ``messages`` how many were distilled, ``created``/``merged`` how many
    memories were added or merged into, and ``memories`` those rows. 403 for another user's
    session, 404 for an unknown one, 409 while a sweeper is distilling it.
    """

    class MemorySerializer(serializers.Serializer):
        id = serializers.UUIDField()
        layer = serializers.CharField()
        category = serializers.CharField(allow_null=True)
        content = serializers.CharField()
        importance = serializers.FloatField(allow_null=True)

    class OutputSerializer(serializers.Serializer):
        session_id = serializers.UUIDField()
        status = serializers.CharField()
        messages = serializers.IntegerField()
        created = serializers.IntegerField()
        merged = serializers.IntegerField()
        memories = serializers.ListField(child=serializers.DictField())

    def post(self, request, session_id):
        dreamt = session_dream_now(session_id=session_id, user_id=request.user.id)
        outcome = dreamt.outcome
        memories = self.MemorySerializer(dreamt.memories, many=True).data
        return Response(
            self.OutputSerializer(
                {
                    "session_id": outcome.session_id,
                    "status": outcome.status,
                    "messages": outcome.messages,
                    "created": outcome.created,
                    "merged": outcome.merged,
                    "memories": memories,
                }
            ).data
        )
