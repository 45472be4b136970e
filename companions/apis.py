"""``/comp/chat/*`` and ``/comp/affinity/*``: one APIView per operation (DESIGN §4).

Every session route checks ownership first (unknown session 404, another user's 403), then
validates its input; every error is the one JSON shape of :mod:`eros.api`.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from companions.domain.types import AXES, AffinityDeltas
from companions.models import ChatMessage
from companions.scopes import (
    AFFINITY_PRESETS,
    MEMORY_SCOPES,
    ScopeError,
    resolve_affinity_scope,
    resolve_memory_scope,
)
from companions.selectors import (
    gift_events_page,
    message_history_page,
    session_for_user,
    session_list_for_user,
    training_level_for_user,
    turn_reply,
    user_message_in_session,
)
from companions.services import affinity as affinity_service
from companions.services.chat_pipeline import (
    TurnOutcome,
    should_show_cta,
    turn_begin,
    turn_enqueue,
    turn_prepare,
    turn_run,
    typing_delay_ms,
)
from companions.services.erase import ERASED_KINDS, user_data_erase
from companions.services.gifts import gift_apply
from companions.services.regenerate import turn_regenerate
from companions.services.sessions import session_start
from companions.services.streaming import turn_stream
from companions.services.turn_sweeper import turn_fail_if_stale
from eros.api import forbid_other_user
from eros.connections import release_connection
from eros.errors import NotFound, PayloadTooLarge, Validation
from eros.fields import (
    NOT_BLANK_PATTERN,
    JSONObjectField,
    QueryIntegerField,
    StrictBooleanField,
    StrictCharField,
    StrictFloatField,
    StrictUUIDField,
    is_blank,
    json_size_bytes,
)
from eros.llm.providers import get_chat_model
from eros.schema import error_responses
from eros.sse import CONTENT_TYPE, EventStreamResponse, JsonErrorsNegotiation, sse_event
from memory.apis import OWNER_ONLY as MEMORY_OWNER_ONLY
from memory.apis import MemoryListApi, MemorySerializer, memory_item
from memory.models import CATEGORIES, LAYER_PROFILE, LAYER_RELATIONSHIP, LAYERS
from memory.services import memory_add
from personas.selectors import persona_instance_owned

HISTORY_DEFAULT_LIMIT = 20
HISTORY_MAX_LIMIT = 50
GIFTS_DEFAULT_LIMIT = 20
GIFTS_MAX_LIMIT = 50
GIFT_DELTA_BOUND = 1.0
GIFT_LABEL_MAX_CHARS = 200


# --- shared input pieces ---------------------------------------------------------------------


class PageQuerySerializer(serializers.Serializer):
    """``limit`` and ``offset`` query parameters; out-of-range values are clamped."""

    limit = QueryIntegerField(required=False, help_text="Page size, clamped to 1–50 (default 20).")
    offset = QueryIntegerField(
        required=False, help_text="How many items to skip from the newest; negatives count as 0."
    )

    def page(self, *, default: int, maximum: int) -> tuple[int, int]:
        limit = self.validated_data.get("limit", default)
        offset = self.validated_data.get("offset", 0)
        return max(1, min(maximum, limit)), max(0, offset)


def _page(request, *, default: int, maximum: int) -> tuple[int, int]:
    query = PageQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.page(default=default, maximum=maximum)


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": settings.MAX_MESSAGE_CHARS,
        "pattern": NOT_BLANK_PATTERN,
        "description": f"The user's message: not blank, at most {settings.MAX_MESSAGE_CHARS} "
        "characters (MAX_MESSAGE_CHARS; longer is a 413).",
    }
)
class MessageTextField(StrictCharField):
    pass


@extend_schema_field(
    {
        "type": "string",
        "enum": list(MEMORY_SCOPES),
        "nullable": True,
        "description": "Which memory prompt assembly may use (default "
        "`neutral_and_relationship`); it never changes what is stored.",
    }
)
class MemoryScopeField(serializers.Field):
    def to_internal_value(self, data):
        return data

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": list(AFFINITY_PRESETS)},
            {"type": "array", "items": {"type": "string", "enum": list(AXES)}},
        ],
        "nullable": True,
        "description": "Which affinity axes shape the reply: a preset (default `bond`) or a "
        "list of axis names; it never changes what is stored.",
    }
)
class AffinityScopeField(serializers.JSONField):
    """A preset name or a list of axis names (anything else is refused here; the names are
    checked by :func:`companions.scopes.resolve_affinity_scope`)."""

    default_error_messages = {"invalid": "expected a preset name or a list of axis names"}

    def to_internal_value(self, data):
        if not isinstance(data, str | list):
            self.fail("invalid")
        return data


def validated_scopes(attrs: dict) -> tuple:
    """``(memory_scope, affinity_axes)`` resolved from a body's optional ``memory_scope`` and
    ``affinity_scope``; a bad value is a ``ValidationError`` naming its field (400)."""
    try:
        memory_scope = resolve_memory_scope(attrs.get("memory_scope"))
    except ScopeError as exc:
        raise serializers.ValidationError({"memory_scope": [str(exc)]}) from None
    try:
        affinity_axes = resolve_affinity_scope(attrs.get("affinity_scope"))
    except (ScopeError, TypeError) as exc:
        raise serializers.ValidationError({"affinity_scope": [str(exc)]}) from None
    return memory_scope, affinity_axes


class MessageInputSerializer(serializers.Serializer):
    """``message`` (alias ``content``), plus optional prompt-assembly scopes."""

    openapi_extra = {"anyOf": [{"required": ["message"]}, {"required": ["content"]}]}

    message = MessageTextField(required=False, trim_whitespace=False)
    content = MessageTextField(
        required=False,
        trim_whitespace=False,
        help_text="Alias of `message`, used when `message` is absent.",
    )
    memory_scope = MemoryScopeField(required=False, allow_null=True)
    affinity_scope = AffinityScopeField(required=False, allow_null=True)

    def validate(self, attrs):
        # Every text field present must be valid, even the one not used (``content`` when
        # ``message`` is given), so a request is judged on all of what it says.
        present = [name for name in ("message", "content") if name in attrs]
        if not present:
            raise serializers.ValidationError({"message": ["this field is required"]})
        for name in present:
            if is_blank(attrs[name]):
                raise serializers.ValidationError({name: [f"{name} must not be empty"]})
        for name in present:
            if len(attrs[name]) > settings.MAX_MESSAGE_CHARS:
                raise PayloadTooLarge(
                    f"{name} is {len(attrs[name])} characters; "
                    f"the limit is {settings.MAX_MESSAGE_CHARS}",
                    details={name: [f"at most {settings.MAX_MESSAGE_CHARS} characters"]},
                )
        text = attrs[present[0]]
        memory_scope, affinity_axes = validated_scopes(attrs)
        return {"text": text, "memory_scope": memory_scope, "affinity_axes": affinity_axes}


class RegenerateInputSerializer(serializers.Serializer):
    """Optional prompt-assembly scopes for the new reply (as on ``/message``)."""

    memory_scope = MemoryScopeField(required=False, allow_null=True)
    affinity_scope = AffinityScopeField(required=False, allow_null=True)

    def validate(self, attrs):
        memory_scope, affinity_axes = validated_scopes(attrs)
        return {"memory_scope": memory_scope, "affinity_axes": affinity_axes}


def _validated_message(request) -> dict:
    data = MessageInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


# --- chat start ------------------------------------------------------------------------------


class ChatStartApi(APIView):
    """Start a chat with a persona, or resume the latest session with it.

    ``instance_id`` names the caller's active persona instance; otherwise ``genome_id`` names
    an active persona, whose instance for the caller is reused or created. The latest session
    with the instance is resumed (``is_new`` false, ``is_demo`` ignored), else one is created.
    """

    class InputSerializer(serializers.Serializer):
        openapi_extra = {"anyOf": [{"required": ["genome_id"]}, {"required": ["instance_id"]}]}

        genome_id = StrictUUIDField(required=False)
        instance_id = StrictUUIDField(
            required=False, help_text="Wins over `genome_id` when both are set."
        )
        is_demo = StrictBooleanField(
            required=False,
            default=False,
            help_text="New sessions only: use DEMO_EMA_INERTIA for affinity updates.",
        )

    class OutputSerializer(serializers.Serializer):
        session_id = serializers.UUIDField()
        instance_id = serializers.UUIDField()
        persona_name = serializers.CharField()
        is_new = serializers.BooleanField()

    @extend_schema(
        tags=["companion"],
        operation_id="chat_start",
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 403, 404, 409)},
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


# --- messages --------------------------------------------------------------------------------


class ChatMessageApi(APIView):
    """Send a message and wait for the persona's reply (``reply`` is null when ghosted).

    The message is stored before anything else, so it is kept whatever happens next. A model
    provider failure is a 502 ``upstream_error`` (the turn is then ``failed``).
    """

    class OutputSerializer(serializers.Serializer):
        reply = serializers.CharField(allow_null=True)
        ghosted = serializers.BooleanField()
        message_id = serializers.UUIDField(allow_null=True, help_text="The reply's id.")
        user_message_id = serializers.UUIDField()
        session_id = serializers.UUIDField()
        lead_score = serializers.FloatField(help_text="0–10.")
        should_show_cta = serializers.BooleanField()
        typing_delay_ms = serializers.IntegerField(min_value=800, max_value=2499)
        agent_training_level = serializers.FloatField(help_text="0–1.")

    @extend_schema(
        tags=["companion"],
        operation_id="chat_message",
        request=MessageInputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 403, 404, 413, 502)},
    )
    def post(self, request, session_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        params = _validated_message(request)
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


class ChatRegenerateApi(APIView):
    """Replace the persona's last reply with a new one (same response shape as ``/message``).

    Only the reply to the session's newest user message can be replaced, and only while it is
    the newest message. The old reply disappears from the history and from the next turn's
    prompt; ``message_id`` is the new reply's id. Post-process (affinity, insights, memory) stays
    once per user message. 409 ``conflict`` when there is nothing to regenerate
    (``details.turn_status``: no message yet, or the last turn is ``pending``, ``ghosted`` or
    ``failed``; a greeting is not regenerated) or the conversation moved on meanwhile; 502 when
    the model provider fails (the old reply stays).
    """

    @extend_schema(
        tags=["companion"],
        operation_id="chat_regenerate",
        request=RegenerateInputSerializer,
        responses={
            200: ChatMessageApi.OutputSerializer,
            **error_responses(400, 403, 404, 409, 502),
        },
    )
    def post(self, request, session_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        data = RegenerateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = turn_regenerate(session=session, **data.validated_data)
        return Response(ChatMessageApi.OutputSerializer(_message_output(outcome, session)).data)


class ChatMessageAsyncApi(APIView):
    """Store a message and answer 202 at once; the turn runs on a worker.

    Poll ``GET /comp/chat/{session_id}/pending/{user_message_id}`` for the outcome.
    """

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["processing"])
        user_message_id = serializers.UUIDField()
        session_id = serializers.UUIDField()

    @extend_schema(
        tags=["companion"],
        operation_id="chat_message_async",
        request=MessageInputSerializer,
        responses={202: OutputSerializer, **error_responses(400, 403, 404, 413)},
    )
    def post(self, request, session_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        params = _validated_message(request)
        user_message = turn_begin(session=session, content=params["text"])
        turn_enqueue(
            user_message=user_message,
            memory_scope=params["memory_scope"],
            affinity_axes=params["affinity_axes"],
        )
        body = {
            "status": "processing",
            "user_message_id": user_message.id,
            "session_id": session.id,
        }
        return Response(self.OutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class PendingReplySerializer(serializers.Serializer):
    reply = serializers.CharField()
    message_id = serializers.UUIDField()
    lead_score = serializers.FloatField()
    should_show_cta = serializers.BooleanField()
    agent_training_level = serializers.FloatField()
    sent_at = serializers.DateTimeField()


class ChatPendingApi(APIView):
    """The outcome of an asynchronous turn, by the id of its user message.

    ``processing`` (still running), ``completed`` (``message`` holds the reply), ``ghosted``
    (the persona chose not to answer) or ``error`` (the turn failed; the message is kept). A
    turn still pending ``TURN_STALE_AFTER_S`` after it was sent has lost its worker: it is
    failed here and then, reporting ``error``.
    """

    STATUS_BY_TURN = {
        ChatMessage.TURN_PENDING: "processing",
        ChatMessage.TURN_REPLIED: "completed",
        ChatMessage.TURN_GHOSTED: "ghosted",
        ChatMessage.TURN_FAILED: "error",
    }

    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["processing", "completed", "ghosted", "error"])
        message = PendingReplySerializer(allow_null=True)

    @extend_schema(
        tags=["companion"],
        operation_id="chat_pending",
        responses={200: OutputSerializer, **error_responses(403, 404)},
    )
    def get(self, request, session_id, message_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        user_message = user_message_in_session(session=session, message_id=message_id)
        turn_fail_if_stale(user_message=user_message)
        reply = turn_reply(user_message=user_message)
        turn_status = user_message.turn_status
        if turn_status is None:  # rows written outside the pipeline carry no status
            turn_status = ChatMessage.TURN_REPLIED if reply else ChatMessage.TURN_PENDING
        state = self.STATUS_BY_TURN[turn_status]
        message = None
        if state == "completed":
            if reply is None:
                state = "error"
            else:
                level = training_level_for_user(user_id=session.user_id)
                session.refresh_from_db(fields=["lead_score"])
                message = {
                    "reply": reply.content,
                    "message_id": reply.id,
                    "lead_score": session.lead_score,
                    "should_show_cta": should_show_cta(session.lead_score, level),
                    "agent_training_level": level,
                    "sent_at": reply.sent_at,
                }
        return Response(self.OutputSerializer({"status": state, "message": message}).data)


# --- history and sessions --------------------------------------------------------------------


class HistoryMessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    role = serializers.ChoiceField(
        choices=[ChatMessage.ROLE_USER, ChatMessage.ROLE_ASSISTANT, ChatMessage.ROLE_GIFT_USER]
    )
    content = serializers.CharField()
    sent_at = serializers.DateTimeField()
    turn_status = serializers.ChoiceField(
        choices=ChatMessage.TURN_STATUSES,
        required=False,
        help_text="User messages only (absent on others, and on user messages stored without "
        "a turn): `pending` (the reply is on its way), `replied`, `ghosted` (no reply, by "
        "choice) or `failed` (the turn failed and has no reply; the message is kept, so a "
        "client can offer to send it again).",
    )

    def to_representation(self, instance):
        body = super().to_representation(instance)
        if instance.role != ChatMessage.ROLE_USER or instance.turn_status is None:
            body.pop("turn_status", None)
        return body


class ChatHistoryApi(APIView):
    """A page of the conversation, oldest first; ``offset`` counts back from the newest.

    Lists user, assistant and gift messages; user messages carry their ``turn_status``, so a
    failed turn (``failed``: kept, but never answered) is visible and can be retried. The
    ``system_error`` rows behind failures are for operators. ``total`` counts the listed
    messages; ``has_more`` says whether older ones remain.
    """

    class OutputSerializer(serializers.Serializer):
        session_id = serializers.UUIDField()
        messages = HistoryMessageSerializer(many=True)
        total = serializers.IntegerField(min_value=0)
        has_more = serializers.BooleanField()

    @extend_schema(
        tags=["companion"],
        operation_id="chat_history",
        parameters=[PageQuerySerializer],
        responses={200: OutputSerializer, **error_responses(400, 403, 404)},
    )
    def get(self, request, session_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        limit, offset = _page(request, default=HISTORY_DEFAULT_LIMIT, maximum=HISTORY_MAX_LIMIT)
        messages, total = message_history_page(session=session, limit=limit, offset=offset)
        body = {
            "session_id": session.id,
            "messages": messages,
            "total": total,
            "has_more": offset + len(messages) < total,
        }
        return Response(self.OutputSerializer(body).data)


class SessionSummarySerializer(serializers.Serializer):
    session_id = serializers.UUIDField(source="id")
    instance_id = serializers.UUIDField(allow_null=True)
    persona_name = serializers.CharField(allow_null=True)
    lead_score = serializers.FloatField()
    is_converted = serializers.BooleanField()
    last_active_at = serializers.DateTimeField()


class ChatSessionListApi(APIView):
    """The caller's sessions, most recently active first, with each persona's name."""

    class OutputSerializer(serializers.Serializer):
        user_id = serializers.UUIDField()
        sessions = SessionSummarySerializer(many=True)

    @extend_schema(
        tags=["companion"],
        operation_id="chat_sessions",
        responses={200: OutputSerializer, **error_responses(403, 404)},
    )
    def get(self, request, user_id):
        forbid_other_user(path_user_id=user_id, caller_id=request.user.id)
        sessions = session_list_for_user(user_id=user_id)
        return Response(self.OutputSerializer({"user_id": user_id, "sessions": sessions}).data)


# --- gifts -----------------------------------------------------------------------------------


def _delta_field() -> StrictFloatField:
    return StrictFloatField(
        required=False, default=0.0, min_value=-GIFT_DELTA_BOUND, max_value=GIFT_DELTA_BOUND
    )


class GiftDeltasSerializer(serializers.Serializer):
    """Raw per-axis changes in [-1, 1]; absent axes are 0. The EMA damps them when applied."""

    openapi_extra = {"additionalProperties": False}

    warmth = _delta_field()
    trust = _delta_field()
    intrigue = _delta_field()
    intimacy = _delta_field()
    patience = _delta_field()
    tension = _delta_field()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(AXES))
            if unknown:
                raise serializers.ValidationError(
                    {unknown[0]: [f"unknown axis; expected axes from {', '.join(AXES)}"]}
                )
        return super().to_internal_value(data)


class AffinityChangeSerializer(serializers.Serializer):
    """The change made per axis (new − old): warmth within [-2, 2], the others [-1, 1]."""

    warmth = serializers.FloatField()
    trust = serializers.FloatField()
    intrigue = serializers.FloatField()
    intimacy = serializers.FloatField()
    patience = serializers.FloatField()
    tension = serializers.FloatField()


class GiftSendApi(APIView):
    """Give the persona a gift: its deltas move the affinity at once (no model call).

    Appends a ``gift_user`` message (its content is the label) and one ``gift`` affinity
    event; ``applied_deltas`` echoes the raw deltas as requested (the reference's field), and
    ``affinity_change`` is the change the gift actually made per axis after the EMA and the
    clamps (new − old, old taken after time decay).
    """

    class InputSerializer(serializers.Serializer):
        deltas = GiftDeltasSerializer()
        label = StrictCharField(
            required=False,
            allow_null=True,
            max_length=GIFT_LABEL_MAX_CHARS,
            help_text='What was given (default "gift").',
        )
        metadata = JSONObjectField(
            required=False,
            allow_null=True,
            help_text="Anything the client wants kept with the gift: at most "
            f"{settings.GIFT_METADATA_MAX_BYTES} bytes as compact UTF-8 JSON "
            "(GIFT_METADATA_MAX_BYTES; larger is a 413).",
        )

        def validate_metadata(self, value):
            size = json_size_bytes(value)
            limit = settings.GIFT_METADATA_MAX_BYTES
            if size > limit:
                raise PayloadTooLarge(
                    f"metadata is {size} bytes as JSON; the limit is {limit}",
                    details={"metadata": [f"at most {limit} bytes as compact UTF-8 JSON"]},
                )
            return value

    class OutputSerializer(serializers.Serializer):
        reply = serializers.CharField(allow_null=True, help_text="Always null.")
        applied_deltas = GiftDeltasSerializer(help_text="The requested raw deltas, echoed.")
        affinity_change = AffinityChangeSerializer(
            help_text="What the gift changed per axis: new − old after the EMA and clamps."
        )
        relationship_label = serializers.CharField()

    @extend_schema(
        tags=["companion"],
        operation_id="gift_send",
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 403, 404, 409, 413)},
    )
    def post(self, request, session_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        deltas = AffinityDeltas.from_mapping(params["deltas"])
        outcome = gift_apply(
            session=session,
            deltas=deltas,
            label=(params.get("label") or "").strip() or None,
            metadata=params.get("metadata"),
        )
        body = {
            "reply": None,
            "applied_deltas": deltas.as_dict(),
            "affinity_change": outcome.change,
            "relationship_label": outcome.affinity.relationship_label,
        }
        return Response(self.OutputSerializer(body).data)


class GiftSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    label = serializers.CharField()
    deltas = GiftDeltasSerializer()
    metadata = serializers.DictField()
    created_at = serializers.DateTimeField()


class GiftListApi(APIView):
    """The session's gifts, newest first, paginated like the history."""

    class OutputSerializer(serializers.Serializer):
        gifts = GiftSerializer(many=True)
        total = serializers.IntegerField(min_value=0)
        has_more = serializers.BooleanField()

    @extend_schema(
        tags=["companion"],
        operation_id="gift_list",
        parameters=[PageQuerySerializer],
        responses={200: OutputSerializer, **error_responses(400, 403, 404)},
    )
    def get(self, request, session_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        limit, offset = _page(request, default=GIFTS_DEFAULT_LIMIT, maximum=GIFTS_MAX_LIMIT)
        events, total = gift_events_page(session=session, limit=limit, offset=offset)
        gifts = []
        for event in events:
            context = event.context or {}
            gifts.append(
                {
                    "id": event.id,
                    "label": context.get("label") or "gift",
                    "deltas": AffinityDeltas.from_mapping(event.deltas or {}).as_dict(),
                    "metadata": context.get("metadata") or {},
                    "created_at": event.created_at,
                }
            )
        body = {"gifts": gifts, "total": total, "has_more": offset + len(gifts) < total}
        return Response(self.OutputSerializer(body).data)


# --- affinity debug --------------------------------------------------------------------------


class AffinityDetailApi(APIView):
    """The session's affinity as of now (decay applied, nothing written); debugging aid.

    Exists only when ``EXPOSE_AFFINITY_DEBUG=true``; otherwise every request is a 404.
    A session without an affinity row yet (no turn so far) is a 404 too.
    """

    class OutputSerializer(serializers.Serializer):
        session_id = serializers.UUIDField()
        warmth = serializers.FloatField(help_text="-1..1")
        trust = serializers.FloatField(help_text="0..1")
        intrigue = serializers.FloatField(help_text="0..1")
        intimacy = serializers.FloatField(help_text="0..1")
        patience = serializers.FloatField(help_text="0..1")
        tension = serializers.FloatField(help_text="0..1")
        ghost_streak = serializers.IntegerField()
        total_ghosts = serializers.IntegerField()
        last_ghost_at = serializers.DateTimeField(allow_null=True)
        relationship_label = serializers.CharField(allow_null=True)
        updated_at = serializers.DateTimeField(help_text="When the stored row was last written.")

    def initial(self, request, *args, **kwargs):
        # Disabled means absent: a 404 before authentication, like an unknown route.
        if not settings.EXPOSE_AFFINITY_DEBUG:
            raise NotFound(f"no route for {request.path}")
        super().initial(request, *args, **kwargs)

    @extend_schema(
        tags=["debug"],
        operation_id="affinity_detail",
        responses={200: OutputSerializer, **error_responses(403, 404)},
    )
    def get(self, request, session_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        row = affinity_service.affinity_for_session(session.id)
        if row is None:
            raise NotFound("this session has no affinity yet")
        value = affinity_service.decayed_view(row, now=timezone.now())
        body = {
            "session_id": session.id,
            **value.vector(),
            "ghost_streak": row.ghost_streak,
            "total_ghosts": row.total_ghosts,
            "last_ghost_at": row.last_ghost_at,
            "relationship_label": row.relationship_label,
            "updated_at": row.updated_at,
        }
        return Response(self.OutputSerializer(body).data)


# --- streamed messages -----------------------------------------------------------------------


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


#: One server-sent event as a client parser sees it: ``event`` names it, ``data`` is JSON text.
SSE_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["meta", "delta", "done", "error"]},
        "data": {"type": "string", "description": "The event's JSON payload, as text."},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
    "required": ["event", "data"],
}


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
                response=SSE_EVENT_SCHEMA,
                description="An event stream: `meta`, `delta`…, then `done` or `error`.",
                examples=[OpenApiExample("reply", value=STREAM_EXAMPLE)],
            ),
            **error_responses(400, 401, 403, 404, 413),
        },
    )
    def post(self, request, session_id):
        session = session_for_user(session_id=session_id, user_id=request.user.id)
        params = _validated_message(request)
        user_message = turn_begin(session=session, content=params["text"])
        prepared = turn_prepare(
            session=session,
            user_message=user_message,
            memory_scope=params["memory_scope"],
            affinity_axes=params["affinity_axes"],
        )
        # The reply is persisted by the stream's own thread; this request's connection would
        # otherwise stay checked out of the pool for the whole stream.
        release_connection()
        events = turn_stream(prepared=prepared, chat_model=get_chat_model())
        return EventStreamResponse(_encode_stream(events, session))


async def _encode_stream(events, session):
    async for event in events:
        data = event.data
        if event.name == "done":
            data = ChatMessageApi.OutputSerializer(_message_output(data, session)).data
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


class UserDataEraseOutputSerializer(serializers.Serializer):
    user_id = serializers.UUIDField()
    erased = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="rows deleted per kind: " + ", ".join(ERASED_KINDS),
    )


class UserDataEraseApi(APIView):
    """Erase everything eros holds about the user: sessions and their messages, affinity and its
    events, memories, the insight profile and persona instances. Cannot be undone."""

    OutputSerializer = UserDataEraseOutputSerializer

    @extend_schema(
        tags=["memory"],
        operation_id="user_data_erase",
        responses={200: OutputSerializer, **error_responses(401, 403)},
    )
    def delete(self, request, user_id):
        forbid_other_user(
            path_user_id=user_id,
            caller_id=request.user.id,
            message="you can only manage your own memories and data",
        )
        erased = user_data_erase(user_id=user_id)
        return Response(self.OutputSerializer({"user_id": user_id, "erased": erased}).data)


class MemoryCreateInputSerializer(serializers.Serializer):
    """A memory the user writes. ``instance_id`` goes with the ``relationship`` layer alone
    (required there) and names a persona instance the user owns; otherwise it is a 400."""

    content = StrictCharField(max_length=settings.MAX_MESSAGE_CHARS, help_text="embedded on write")
    layer = serializers.ChoiceField(choices=LAYERS, default=LAYER_PROFILE)
    instance_id = StrictUUIDField(
        required=False,
        allow_null=True,
        help_text="the persona instance of a `relationship` memory: one the user owns",
    )
    category = serializers.ChoiceField(choices=CATEGORIES, required=False, allow_null=True)
    importance = StrictFloatField(required=False, allow_null=True, min_value=0.0, max_value=1.0)

    def validate(self, attrs):
        relationship = attrs["layer"] == LAYER_RELATIONSHIP
        if relationship and not attrs.get("instance_id"):
            raise serializers.ValidationError(
                {"instance_id": ["required for a relationship memory"]}
            )
        if not relationship and attrs.get("instance_id"):
            raise serializers.ValidationError(
                {"instance_id": ["only a relationship memory has one"]}
            )
        return attrs


class MemoryCollectionApi(MemoryListApi):
    """The user's memories: list them (GET, ``memory.apis``) or add one (POST).

    Routed here rather than in ``memory.urls`` because a relationship memory needs its persona
    instance's owner checked, and the memory app knows no personas: the ownership is checked
    here and the memory service gets plain values.
    """

    CreateInputSerializer = MemoryCreateInputSerializer

    @extend_schema(
        tags=["memory"],
        operation_id="memories_create",
        request=CreateInputSerializer,
        responses={201: MemorySerializer, **error_responses(400, 401, 403, 502)},
    )
    def post(self, request, user_id):
        """Add a pinned memory the user wrote (201); a relationship memory's ``instance_id``
        must be a persona instance the user owns (else 400)."""
        forbid_other_user(
            path_user_id=user_id, caller_id=request.user.id, message=MEMORY_OWNER_ONLY
        )
        data = self.CreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        instance_id = params.get("instance_id")
        if instance_id is not None and not persona_instance_owned(
            instance_id=instance_id, owner_uid=user_id
        ):
            raise Validation(
                "instance_id is not a persona instance of yours",
                details={"instance_id": ["not a persona instance of yours"]},
            )
        memory = memory_add(
            user_id=user_id,
            content=params["content"],
            instance_id=instance_id,
            category=params.get("category"),
            importance=params.get("importance"),
        )
        return Response(MemorySerializer(memory_item(memory)).data, status=status.HTTP_201_CREATED)
