"""``/comp/chat/*``: one APIView per operation (DESIGN §4)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from companions.scopes import ScopeError, resolve_affinity_scope, resolve_memory_scope
from companions.selectors import session_for_user
from companions.services.chat_pipeline import (
    should_show_cta,
    turn_begin,
    turn_run,
    typing_delay_ms,
)
from companions.services.sessions import session_start
from eros.api import PayloadTooLarge


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField(required=False)


def _errors(*codes: int) -> dict:
    return {code: OpenApiResponse(ErrorSerializer) for code in codes}


class ChatStartInputSerializer(serializers.Serializer):
    genome_id = serializers.UUIDField(required=False, allow_null=True)
    instance_id = serializers.UUIDField(required=False, allow_null=True)
    is_demo = serializers.BooleanField(required=False, default=False)


class ChatStartOutputSerializer(serializers.Serializer):
    session_id = serializers.UUIDField()
    instance_id = serializers.UUIDField()
    persona_name = serializers.CharField()
    is_new = serializers.BooleanField()


class ChatStartApi(APIView):
    """Start a chat with a persona, or resume the latest session with it."""

    InputSerializer = ChatStartInputSerializer
    OutputSerializer = ChatStartOutputSerializer

    @extend_schema(
        tags=["companion"],
        operation_id="chat_start",
        request=InputSerializer,
        responses={200: OutputSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        started = session_start(user_id=request.user.id, **data.validated_data)
        return Response(
            self.OutputSerializer(
                {
                    "session_id": started.session.id,
                    "instance_id": started.instance.id,
                    "persona_name": started.instance.genome.name,
                    "is_new": started.is_new,
                }
            ).data
        )


class AffinityScopeField(serializers.JSONField):
    """A preset name or a list of axis names."""


class MessageInputSerializer(serializers.Serializer):
    """``message`` (alias ``content``), plus optional prompt-assembly scopes."""

    message = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    memory_scope = serializers.CharField(required=False, allow_null=True)
    affinity_scope = AffinityScopeField(required=False, allow_null=True)

    def validate(self, attrs):
        text = attrs.get("message")
        if text is None:
            text = attrs.get("content")
        if text is None:
            raise serializers.ValidationError({"message": ["this field is required"]})
        if not text.strip():
            raise serializers.ValidationError({"message": ["message must not be empty"]})
        if len(text) > settings.MAX_MESSAGE_CHARS:
            raise PayloadTooLarge(
                f"message is {len(text)} characters; the limit is {settings.MAX_MESSAGE_CHARS}",
                {"message": [f"at most {settings.MAX_MESSAGE_CHARS} characters"]},
            )
        try:
            memory_scope = resolve_memory_scope(attrs.get("memory_scope"))
        except ScopeError as exc:
            raise serializers.ValidationError({"memory_scope": [str(exc)]}) from None
        try:
            affinity_axes = resolve_affinity_scope(attrs.get("affinity_scope"))
        except ScopeError as exc:
            raise serializers.ValidationError({"affinity_scope": [str(exc)]}) from None
        return {"text": text, "memory_scope": memory_scope, "affinity_axes": affinity_axes}


class ChatMessageOutputSerializer(serializers.Serializer):
    reply = serializers.CharField(allow_null=True)
    ghosted = serializers.BooleanField()
    message_id = serializers.UUIDField(allow_null=True)
    user_message_id = serializers.UUIDField()
    session_id = serializers.UUIDField()
    lead_score = serializers.FloatField()
    should_show_cta = serializers.BooleanField()
    typing_delay_ms = serializers.IntegerField()
    agent_training_level = serializers.FloatField()


class ChatMessageApi(APIView):
    """Send a message and wait for the persona's reply (``reply`` is null when ghosted)."""

    OutputSerializer = ChatMessageOutputSerializer

    @extend_schema(
        tags=["companion"],
        operation_id="chat_message",
        request=MessageInputSerializer,
        responses={200: OutputSerializer, **_errors(400, 401, 403, 404, 413, 502)},
    )
    def post(self, request, session_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        data = MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        user_message = turn_begin(session=session, content=params["text"])
        outcome = turn_run(
            session=session,
            user_message=user_message,
            memory_scope=params["memory_scope"],
            affinity_axes=params["affinity_axes"],
        )
        lead = session.lead_score
        return Response(
            self.OutputSerializer(
                {
                    "reply": outcome.reply,
                    "ghosted": outcome.ghosted,
                    "message_id": outcome.assistant_message.id
                    if outcome.assistant_message
                    else None,
                    "user_message_id": user_message.id,
                    "session_id": session.id,
                    "lead_score": lead,
                    "should_show_cta": should_show_cta(lead, outcome.training_level),
                    "typing_delay_ms": typing_delay_ms(user_message.id),
                    "agent_training_level": outcome.training_level,
                }
            ).data
        )
