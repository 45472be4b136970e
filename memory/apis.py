"""``/comp/user/{user_id}/memories`` and ``/comp/user/{user_id}/data``: users control what eros
remembers about them (DESIGN §4). Owner-only: the path's user must be the token's ``sub``."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from eros.api import forbid_other_user
from eros.errors import NotFound
from eros.fields import (
    QueryBooleanField,
    QueryCharField,
    QueryChoiceField,
    QueryIntegerField,
    QueryUUIDField,
    StrictCharField,
    StrictFloatField,
)
from eros.schema import error_responses
from memory.models import CATEGORIES, LAYERS
from memory.selectors import MEMORY_FIELDS, memory_list
from memory.services import memory_edit, memory_forget

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
    include_superseded = QueryBooleanField(
        required=False,
        default=False,
        help_text="`true` lists the memories a newer value replaced too (`valid_to` set); "
        "`false` (default): current memories only",
    )


class MemorySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    layer = serializers.ChoiceField(choices=LAYERS)
    session_id = serializers.UUIDField(
        allow_null=True, help_text="the chat it was distilled from; null when the user wrote it"
    )
    instance_id = serializers.UUIDField(allow_null=True)
    category = serializers.CharField(allow_null=True)
    content = serializers.CharField()
    source_message_ids = serializers.ListField(child=serializers.UUIDField())
    importance = serializers.FloatField(allow_null=True)
    occurred_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    pinned = serializers.BooleanField(
        help_text="added or edited by the user; recalled before the others of its list"
    )
    slot = serializers.CharField(
        allow_null=True,
        help_text="what it is a value of, when the slot rules can tell (`city`, `occupation`, "
        "`pet:dog`, `concern:surgery` …); a newer value of the slot supersedes it",
    )
    valid_to = serializers.DateTimeField(
        allow_null=True,
        help_text="when it stopped being true (event time); null while it is current",
    )
    superseded_by = serializers.UUIDField(
        allow_null=True,
        help_text="the memory that replaced it; null while current, or once that memory was "
        "deleted (the row stays superseded)",
    )
    similarity = serializers.FloatField(
        required=False, help_text="cosine similarity to `q` in [-1, 1]; only with `q`"
    )


class MemoryListOutputSerializer(serializers.Serializer):
    user_id = serializers.UUIDField()
    memories = MemorySerializer(many=True)
    total = serializers.IntegerField()
    has_more = serializers.BooleanField()


class MemoryListApi(APIView):
    """The user's current memories (never their vectors), newest first or, with `q`, most
    similar first; with `include_superseded=true` the replaced ones too."""

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


def memory_item(memory) -> dict:
    """A memory row as :class:`MemorySerializer` reads it (the list's fields and ``layer``)."""
    # The foreign key's id, not the related row: no query per memory.
    item = {name: getattr(memory, name) for name in MEMORY_FIELDS if name != "superseded_by"}
    item["superseded_by"] = memory.superseded_by_id
    item["layer"] = memory.layer
    return item


class MemoryUpdateInputSerializer(serializers.Serializer):
    """Give ``content``, ``importance`` or both; an empty body is a 400."""

    content = StrictCharField(
        required=False, max_length=settings.MAX_MESSAGE_CHARS, help_text="re-embedded on write"
    )
    importance = StrictFloatField(required=False, min_value=0.0, max_value=1.0)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("give `content`, `importance` or both")
        return attrs


class MemoryDeleteOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    deleted_at = serializers.DateTimeField()


class MemoryDetailApi(APIView):
    """Edit one memory (it becomes pinned) or forget it for good (content and embedding are
    deleted; nothing can restore it)."""

    UpdateInputSerializer = MemoryUpdateInputSerializer
    OutputSerializer = MemoryDeleteOutputSerializer

    @extend_schema(
        tags=["memory"],
        operation_id="memories_update",
        request=UpdateInputSerializer,
        responses={200: MemorySerializer, **error_responses(400, 401, 403, 404, 502)},
    )
    def patch(self, request, user_id, memory_id):
        forbid_other_user(path_user_id=user_id, caller_id=request.user.id, message=OWNER_ONLY)
        data = self.UpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        memory = memory_edit(user_id=user_id, memory_id=memory_id, **data.validated_data)
        return Response(MemorySerializer(memory_item(memory)).data)

    @extend_schema(
        tags=["memory"],
        operation_id="memories_delete",
        responses={200: OutputSerializer, **error_responses(401, 403, 404)},
    )
    def delete(self, request, user_id, memory_id):
        forbid_other_user(path_user_id=user_id, caller_id=request.user.id, message=OWNER_ONLY)
        if not memory_forget(memory_id=memory_id, user_id=user_id):
            raise NotFound("memory not found")
        return Response(self.OutputSerializer({"id": memory_id, "deleted_at": timezone.now()}).data)
