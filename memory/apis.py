"""``/comp/user/{user_id}/memories`` and ``/comp/user/{user_id}/data``: users control what eros
remembers about them (DESIGN §4). Owner-only: the path's user must be the token's ``sub``."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from eros.api import forbid_other_user
from eros.errors import NotFound
from eros.fields import QueryCharField, QueryChoiceField, QueryIntegerField, QueryUUIDField
from eros.schema import error_responses
from memory.models import CATEGORIES, LAYERS, CompanionMemory
from memory.selectors import memory_list
from memory.services import memory_soft_delete

#: Deepest page offset accepted (PostgreSQL's OFFSET is a bigint; this is far past any user).
MAX_OFFSET = 2**31 - 1


#: The 403 message of every route here (the owner check is :func:`eros.api.forbid_other_user`).
OWNER_ONLY = "you can only manage your own memories and data"


class MemoryListInputSerializer(serializers.Serializer):
    layer = QueryChoiceField(choices=LAYERS, required=False)
    instance_id = QueryUUIDField(required=False)
    category = QueryChoiceField(choices=CATEGORIES, required=False)
    q = QueryCharField(required=False, trim_whitespace=False, max_length=settings.MAX_MESSAGE_CHARS)
    limit = QueryIntegerField(required=False, default=20, min_value=1, max_value=100)
    offset = QueryIntegerField(required=False, default=0, min_value=0, max_value=MAX_OFFSET)


class MemorySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    layer = serializers.ChoiceField(choices=LAYERS)
    session_id = serializers.UUIDField()
    instance_id = serializers.UUIDField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    content = serializers.CharField()
    source_message_ids = serializers.ListField(child=serializers.UUIDField())
    importance = serializers.FloatField(allow_null=True)
    occurred_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    similarity = serializers.FloatField(
        required=False, help_text="cosine similarity to `q` in [-1, 1]; only with `q`"
    )


class MemoryListOutputSerializer(serializers.Serializer):
    user_id = serializers.UUIDField()
    memories = MemorySerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


class MemoryListApi(APIView):
    """The user's memories (never their vectors), newest first or, with `q`, most similar first."""

    InputSerializer = MemoryListInputSerializer
    OutputSerializer = MemoryListOutputSerializer

    @extend_schema(
        tags=["memory"],
        operation_id="memories_list",
        parameters=[InputSerializer],
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 502)},
    )
    def get(self, request, user_id):
        forbid_other_user(path_user_id=user_id, caller_id=request.user.id, message=OWNER_ONLY)
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        page = memory_list(user_id=user_id, **data.validated_data)
        return Response(
            self.OutputSerializer(
                {
                    "user_id": user_id,
                    "memories": page.items,
                    "total": page.total,
                    "has_more": page.has_more,
                }
            ).data
        )


class MemoryDeleteOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    deleted_at = serializers.DateTimeField()


class MemoryDeleteApi(APIView):
    """Forget one memory: it is soft-deleted and never recalled again."""

    OutputSerializer = MemoryDeleteOutputSerializer

    @extend_schema(
        tags=["memory"],
        operation_id="memories_delete",
        responses={200: OutputSerializer, **error_responses(401, 403, 404)},
    )
    def delete(self, request, user_id, memory_id):
        forbid_other_user(path_user_id=user_id, caller_id=request.user.id, message=OWNER_ONLY)
        if not memory_soft_delete(memory_id=memory_id, user_id=user_id):
            raise NotFound("memory not found")
        deleted_at = (
            CompanionMemory.objects.filter(id=memory_id).values_list("deleted_at", flat=True).get()
        )
        return Response(self.OutputSerializer({"id": memory_id, "deleted_at": deleted_at}).data)
