"""``/comp/chat/*``: one APIView per operation (DESIGN §4)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from companions.scopes import ScopeError, resolve_affinity_scope, resolve_memory_scope
from companions.selectors import session_for_user
from companions.services.chat_pipeline import (
    TurnOutcome,
    should_show_cta,
    turn_begin,
    turn_prepare,
    turn_run,
    typing_delay_ms,
)
from companions.services.sessions import session_start
from companions.services.streaming import turn_stream
from eros.api import PayloadTooLarge
from eros.llm.providers import get_chat_model
from eros.sse import CONTENT_TYPE, EventStreamResponse, JsonErrorsNegotiation, sse_event


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


STREAM_DESCRIPTION = """\
The same turn as `POST /comp/chat/{session_id}/message` (same body, same validation and
ownership errors as JSON before the stream starts), answered as `text/event-stream`.
Each event is `event: <name>` and one `data:` line of JSON:

- `meta` (first, once): `{user_message_id, session_id, ghosted, typing_delay_ms}`.
- `delta` (zero or more): `{text}`, reply text as the model produces it.
- `done` (last, on success): the fields of the `/message` response (`reply` is the stored,
  cleaned reply, `null` when ghosted; `message_id`, `lead_score`, `should_show_cta`,
  `agent_training_level`, ...). A ghosted turn is `meta` (`ghosted: true`) then `done`.
- `error` (last, instead of `done`): `{error, message, user_message_id}` with `error` =
  `upstream_error` when the model provider failed, or `internal`. The user message is kept.

If the client disconnects, the model call is cancelled; a reply that had begun is stored with
the text streamed so far, otherwise the turn is marked failed.
"""

STREAM_EXAMPLE = (
    'event: meta\ndata: {"user_message_id":"0b6c…","session_id":"5f1e…","ghosted":false,'
    '"typing_delay_ms":1432}\n\n'
    'event: delta\ndata: {"text":"Lisbon"}\n\n'
    'event: delta\ndata: {"text":"? I love"}\n\n'
    'event: delta\ndata: {"text":" that city."}\n\n'
    'event: done\ndata: {"reply":"Lisbon? I love that city.","ghosted":false,'
    '"message_id":"9a3d…","user_message_id":"0b6c…","session_id":"5f1e…","lead_score":0.0,'
    '"should_show_cta":false,"typing_delay_ms":1432,"agent_training_level":0.1}\n\n'
)


class ChatMessageStreamApi(APIView):
    """Send a message and receive the reply as server-sent events while it is produced."""

    content_negotiation_class = JsonErrorsNegotiation

    @extend_schema(
        tags=["companion"],
        operation_id="chat_message_stream",
        description=STREAM_DESCRIPTION,
        request=MessageInputSerializer,
        responses={
            (200, CONTENT_TYPE): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="An event stream: `meta`, `delta`…, then `done` or `error`.",
                examples=[OpenApiExample("reply", value=STREAM_EXAMPLE)],
            ),
            **_errors(400, 401, 403, 404, 413),
        },
    )
    def post(self, request, session_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        data = MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        user_message = turn_begin(session=session, content=params["text"])
        prepared = turn_prepare(
            session=session,
            user_message=user_message,
            memory_scope=params["memory_scope"],
            affinity_axes=params["affinity_axes"],
        )
        events = turn_stream(prepared=prepared, chat_model=get_chat_model())
        return EventStreamResponse(_encode_stream(events, session))


async def _encode_stream(events, session):
    async for event in events:
        data = event.data
        if event.name == "done":
            data = ChatMessageOutputSerializer(_message_output(data, session)).data
        yield sse_event(event.name, data)


def _message_output(outcome: TurnOutcome, session) -> dict:
    """The ``/message`` response fields of a finished turn."""
    lead = session.lead_score
    return {
        "reply": outcome.reply,
        "ghosted": outcome.ghosted,
        "message_id": outcome.assistant_message.id if outcome.assistant_message else None,
        "user_message_id": outcome.user_message.id,
        "session_id": session.id,
        "lead_score": lead,
        "should_show_cta": should_show_cta(lead, outcome.training_level),
        "typing_delay_ms": typing_delay_ms(outcome.user_message.id),
        "agent_training_level": outcome.training_level,
    }
