"""``/v1/models`` and ``/v1/chat/completions``: eros behind the OpenAI chat-completions API.

OpenAI-compatible clients (SillyTavern, Open WebUI, the ``openai`` SDK, ...) talk to eros as
to a model server: every active persona is a model, and a completion is one eros turn of the
token's user with that persona (the same bearer JWT as ``/comp/*``; the user is its ``sub``).

**Models.** A persona's model id is the slug of its name (``juno``; see
``personas.selectors.persona_models``); ``model`` may also be the persona's name or its
genome id. An unknown or inactive persona is a 404 ``model_not_found``.

**What a request means.** eros keeps its own history, memory and affinity, so a completion
sends eros one message: the *last* ``user`` message of ``messages`` (a string, or the text
parts of a content-part list joined by newlines). Everything before it (earlier turns, the
client's system prompt and character card) is ignored; ``system``/``developer`` messages after
it are ignored too, but an ``assistant``, ``tool`` or ``function`` message after it is a 400,
since eros cannot continue a reply it did not write. ``n`` other than 1, non-empty ``tools``
or ``functions``, a non-text ``response_format`` and image or audio parts in the message are
400s. Sampling parameters (``temperature``, ``top_p``, ``max_tokens``, ``stop``, penalties,
``seed``, ``stream_options``, ``user``, ...) are accepted and ignored: the persona's model
configuration decides. eros extensions: ``memory_scope`` and ``affinity_scope``, as on
``POST /comp/chat/{session_id}/message``.

**Which session.** The turn runs in the user's most recently active session with the persona,
started (as ``POST /comp/chat/start`` would) when there is none; ``/comp/chat/*`` sees the
same conversation.

**Answer.** A ``chat.completion`` whose single choice holds the stored reply
(``finish_reason`` ``stop``), or with ``stream: true`` ``chat.completion.chunk`` events ending
with ``data: [DONE]``; the streamed pieces concatenate to exactly the stored reply. Both carry
an ``eros`` object: ``{ghosted, session_id, user_message_id, message_id}``. A ghosted turn (the
persona chose not to answer) is a normal completion whose content is ``GHOST_REPLY``
(e.g. ``*Juno doesn't answer.*``, shown in italics by chat frontends; a non-empty text
because some frontends retry an empty reply, which eros would take as a new message) with
``eros.ghosted`` true and ``message_id`` null; nothing is stored as the persona's reply.

**Errors** are OpenAI's shape, ``{"error": {"message", "type", "code", "param"}}``: the status
and ``code`` are those of the eros error (``eros.api``), except that a bad token's code is
``invalid_api_key``; ``type`` is ``invalid_request_error`` (400, 404, 405, 409, 413, 415),
``authentication_error`` (401), ``permission_error`` (403), ``rate_limit_error`` (429) or
``server_error`` (5xx); ``param`` names the offending field when there is one. A 502 (the model
provider failed; the user message is kept) and a 409 carry ``x-should-retry: false``: the
SDKs would otherwise retry them on their own, storing the message again. A failure after a
stream began is one last ``data: {"error": {...}}`` event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from companions.apis import AffinityScopeField, MemoryScopeField, validated_scopes
from companions.services.chat_pipeline import TurnOutcome, turn_begin, turn_prepare, turn_run
from companions.services.sessions import session_start
from companions.services.streaming import StreamEvent, turn_stream
from eros.api import exception_handler
from eros.errors import NotFound, PayloadTooLarge, Validation
from eros.fields import StrictBooleanField, StrictCharField
from eros.llm.cleaning import StreamCleaner
from eros.llm.providers import get_chat_model
from eros.sse import CONTENT_TYPE, EventStreamResponse, JsonErrorsNegotiation
from personas.selectors import persona_for_model, persona_models

logger = logging.getLogger(__name__)

#: The chat-completions operation's description in the OpenAPI document: this module's doc.
COMPLETIONS_DESCRIPTION = __doc__.replace("``", "`")

#: The content of a ghosted turn; ``{name}`` is the persona's name.
GHOST_REPLY = "*{name} doesn't answer.*"
OWNED_BY = "eros"
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
#: Roles that may follow the user's message and are ignored (a client's trailing instructions).
IGNORED_AFTER_USER = frozenset({"system", "developer"})

#: HTTP status -> OpenAI error ``type``.
ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
#: Statuses an SDK must not retry on its own: after a 502 the user message is already stored
#: (a retry would send it twice), and a 409 (an inactive persona instance) stays a 409.
NO_RETRY_STATUSES = frozenset({409, 502})


# --- errors ----------------------------------------------------------------------------------


def openai_error(status: int, *, code: str, message: str, param: str | None = None) -> dict:
    """The OpenAI error body for an eros error of ``status`` and ``code`` (module doc)."""
    if status == 401:
        code = "invalid_api_key"
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "code": code, "param": param}}


def _param(details: Any) -> str | None:
    if isinstance(details, dict):
        for key in details:
            return None if key == "non_field_errors" else str(key)
    return None


def openai_exception_handler(exc: Exception, context: dict) -> Response:
    """eros's one exception handler (same statuses and codes), answered in OpenAI's shape."""
    response = exception_handler(exc, context)
    body = response.data
    response.data = openai_error(
        response.status_code,
        code=body["error"],
        message=body["message"],
        param=_param(body.get("details")),
    )
    if response.status_code in NO_RETRY_STATUSES:
        response["x-should-retry"] = "false"
    return response


class OpenAIApiView(APIView):
    """Base of the ``/v1`` views: OpenAI-shaped errors, JSON errors whatever ``Accept`` says."""

    content_negotiation_class = JsonErrorsNegotiation

    def get_exception_handler(self):
        return openai_exception_handler


class OpenAIErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.ChoiceField(
        choices=[
            "invalid_request_error",
            "authentication_error",
            "permission_error",
            "rate_limit_error",
            "server_error",
        ]
    )
    code = serializers.CharField(
        allow_null=True,
        help_text="eros's error code (`validation_error`, `payload_too_large`, "
        "`upstream_error`, ...), `invalid_api_key` for a bad token, `model_not_found`.",
    )
    param = serializers.CharField(allow_null=True, help_text="The offending field, if any.")


class OpenAIErrorSerializer(serializers.Serializer):
    """OpenAI's error body: ``{"error": {"message", "type", "code", "param"}}``."""

    error = OpenAIErrorDetailSerializer()


OPENAI_ERROR_DESCRIPTIONS = {
    400: "Invalid request (`param` names the field).",
    401: "Missing, malformed, expired or otherwise invalid bearer token (`invalid_api_key`).",
    404: "No active persona has this model id, name or genome id (`model_not_found`).",
    409: "The caller's instance of this persona is not active.",
    413: "The user's message is over MAX_MESSAGE_CHARS, or the body is too large.",
    415: "The request body is not `application/json`.",
    502: "The model provider failed after retries and fallback; the user message is kept.",
}


def openai_error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(OpenAIErrorSerializer, description=OPENAI_ERROR_DESCRIPTIONS[code])
        for code in codes
    }


# --- models ----------------------------------------------------------------------------------


class OpenAIModelSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The model id: the slug of the persona's name.")
    object = serializers.ChoiceField(choices=["model"])
    created = serializers.IntegerField(help_text="When the persona was created, Unix seconds.")
    owned_by = serializers.ChoiceField(choices=[OWNED_BY])
    name = serializers.CharField(help_text="The persona's name.")
    genome_id = serializers.UUIDField(help_text="Also accepted as `model`.")


class OpenAIModelListApi(OpenAIApiView):
    """The active personas as OpenAI models, ordered by name."""

    class OutputSerializer(serializers.Serializer):
        object = serializers.ChoiceField(choices=["list"])
        data = OpenAIModelSerializer(many=True)

    @extend_schema(
        tags=["openai"],
        operation_id="openai_models_list",
        responses={200: OutputSerializer, **openai_error_responses(401)},
    )
    def get(self, request):
        data = [
            {
                "id": model_id,
                "object": "model",
                "created": int(genome.created_at.timestamp()),
                "owned_by": OWNED_BY,
                "name": genome.name,
                "genome_id": genome.id,
            }
            for model_id, genome in persona_models()
        ]
        return Response(self.OutputSerializer({"object": "list", "data": data}).data)


# --- chat completions: input -----------------------------------------------------------------


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (strings, booleans and floats are refused)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


CONTENT_SCHEMA = {
    "oneOf": [
        {"type": "string"},
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
                "required": ["type"],
            },
        },
    ],
    "nullable": True,
    "description": "A string, or content parts (`{type: text, text}`; other part types only "
    "in messages eros ignores).",
}


@extend_schema_field(CONTENT_SCHEMA)
class OpenAIContentField(serializers.Field):
    """A message's ``content``: a string, a list of content parts, or null."""

    default_error_messages = {
        "invalid": "expected a string, a list of content parts or null",
        "part": "each content part must be an object with a string `type` "
        "(and a string `text` when the type is `text`)",
    }

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            return data
        if not isinstance(data, list):
            self.fail("invalid")
        for part in data:
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                self.fail("part")
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                self.fail("part")
        return data

    def to_representation(self, value):
        return value


class OpenAIChatMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = OpenAIContentField(required=False)


class OpenAIResponseFormatSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=["text"], help_text="Only `text`: a persona answers in its own words."
    )


def _user_turn_text(messages: list[dict]) -> str:
    """The text eros answers: the last ``user`` message's (module doc). Raises ``Validation``."""
    last = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if last is None:
        raise Validation(
            "messages has no user message: eros answers the user's newest message",
            details={"messages": ["at least one message with role `user` is required"]},
        )
    for index in range(last + 1, len(messages)):
        if messages[index]["role"] not in IGNORED_AFTER_USER:
            raise Validation(
                f"messages[{index}] is a `{messages[index]['role']}` message after the last user "
                "message: eros answers the user's newest message and cannot continue a reply",
                details={
                    f"messages[{index}].role": [
                        "only system or developer messages may follow the last user message"
                    ]
                },
            )
    param = f"messages[{last}].content"
    content = messages[last].get("content")
    if isinstance(content, list):
        if any(part["type"] != "text" for part in content):
            raise Validation(
                f"{param} has a part that is not text: eros takes text only",
                details={param: ["only `text` parts are accepted"]},
            )
        content = "\n".join(part["text"] for part in content)
    if not isinstance(content, str) or not content.strip():
        raise Validation(f"{param} must not be empty", details={param: ["must not be empty"]})
    if "\x00" in content:
        raise Validation(
            f"{param} contains a NUL character", details={param: ["NUL is not allowed"]}
        )
    if len(content) > settings.MAX_MESSAGE_CHARS:
        raise PayloadTooLarge(
            f"{param} is {len(content)} characters; the limit is {settings.MAX_MESSAGE_CHARS}",
            details={param: [f"at most {settings.MAX_MESSAGE_CHARS} characters"]},
        )
    return content


class OpenAIChatCompletionInputSerializer(serializers.Serializer):
    """The parts of an OpenAI chat-completions request that eros reads (module doc)."""

    model = StrictCharField(
        help_text="A model id from `GET /v1/models`, a persona's name or its genome id."
    )
    messages = serializers.ListField(
        child=OpenAIChatMessageSerializer(),
        min_length=1,
        help_text="Only the last `user` message is sent to eros.",
    )
    stream = StrictBooleanField(required=False, allow_null=True, default=False)
    n = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=1,
        error_messages={
            "min_value": "eros gives one reply per turn: n must be 1",
            "max_value": "eros gives one reply per turn: n must be 1",
        },
        help_text="Only 1: eros gives one reply per turn.",
    )
    tools = serializers.ListField(
        required=False,
        allow_null=True,
        max_length=0,
        error_messages={"max_length": "personas do not call tools: send no tools"},
        help_text="Not supported: omit it or send an empty list.",
    )
    functions = serializers.ListField(
        required=False,
        allow_null=True,
        max_length=0,
        error_messages={"max_length": "personas do not call functions: send no functions"},
        help_text="Not supported: omit it or send an empty list.",
    )
    response_format = OpenAIResponseFormatSerializer(required=False, allow_null=True)
    memory_scope = MemoryScopeField(required=False, allow_null=True)
    affinity_scope = AffinityScopeField(required=False, allow_null=True)

    def validate(self, attrs):
        text = _user_turn_text(attrs["messages"])
        memory_scope, affinity_axes = validated_scopes(attrs)
        return {
            "model": attrs["model"],
            "text": text,
            "stream": bool(attrs.get("stream")),
            "memory_scope": memory_scope,
            "affinity_axes": affinity_axes,
        }


# --- chat completions: output ----------------------------------------------------------------


class OpenAIErosSerializer(serializers.Serializer):
    """eros's extension: what the turn was, for clients that know eros."""

    ghosted = serializers.BooleanField(help_text="The persona chose not to answer.")
    session_id = serializers.UUIDField()
    user_message_id = serializers.UUIDField()
    message_id = serializers.UUIDField(allow_null=True, help_text="The reply; null when ghosted.")


class OpenAIAssistantMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["assistant"])
    content = serializers.CharField()


class OpenAIChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField(min_value=0, max_value=0)
    message = OpenAIAssistantMessageSerializer()
    finish_reason = serializers.ChoiceField(choices=["stop"])
    logprobs = serializers.JSONField(allow_null=True, help_text="Always null.")


class OpenAIChatCompletionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="`chatcmpl-` and the user message id.")
    object = serializers.ChoiceField(choices=["chat.completion"])
    created = serializers.IntegerField(help_text="When the user message was stored, Unix seconds.")
    model = serializers.CharField(help_text="The persona's model id.")
    choices = OpenAIChoiceSerializer(many=True)
    eros = OpenAIErosSerializer()


CHUNK_SCHEMA = {
    "type": "object",
    "description": "Each event is one `data:` line: a `chat.completion.chunk` JSON object "
    "(the first has `delta.role`, the next ones `delta.content`, the last an empty `delta`, "
    "`finish_reason: stop` and the `eros` object), then the line `data: [DONE]`. A failure "
    'after the stream began is a last `data: {"error": {...}}` line instead.',
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["chat.completion.chunk"]},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "object"}},
        "eros": {"type": "object"},
    },
}

STREAM_EXAMPLE = (
    'data: {"id":"chatcmpl-0b6c…","object":"chat.completion.chunk","created":1767225600,'
    '"model":"juno","choices":[{"index":0,"delta":{"role":"assistant","content":""},'
    '"finish_reason":null}]}\n\n'
    'data: {"id":"chatcmpl-0b6c…","object":"chat.completion.chunk","created":1767225600,'
    '"model":"juno","choices":[{"index":0,"delta":{"content":"Lisbon? I love"},'
    '"finish_reason":null}]}\n\n'
    'data: {"id":"chatcmpl-0b6c…","object":"chat.completion.chunk","created":1767225600,'
    '"model":"juno","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
    '"eros":{"ghosted":false,"session_id":"5f1e…","user_message_id":"0b6c…",'
    '"message_id":"9a3d…"}}\n\n'
    "data: [DONE]\n\n"
)


def _ghost_reply(persona_name: str) -> str:
    return GHOST_REPLY.format(name=persona_name)


def _eros_extension(outcome: TurnOutcome) -> dict:
    return {
        "ghosted": outcome.ghosted,
        "session_id": outcome.session.id,
        "user_message_id": outcome.user_message.id,
        "message_id": outcome.assistant_message.id if outcome.assistant_message else None,
    }


def _completion_head(user_message, model_id: str, kind: str) -> dict:
    return {
        "id": f"chatcmpl-{user_message.id.hex}",
        "object": kind,
        "created": int(user_message.sent_at.timestamp()),
        "model": model_id,
    }


def _completion(outcome: TurnOutcome, *, model_id: str, persona_name: str) -> dict:
    content = _ghost_reply(persona_name) if outcome.ghosted else outcome.reply
    return {
        **_completion_head(outcome.user_message, model_id, "chat.completion"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "eros": _eros_extension(outcome),
    }


def _data(payload: Any) -> bytes:
    """One data-only server-sent event, as OpenAI streams send them (no ``event:`` line)."""
    text = json.dumps(payload, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


async def _completion_chunks(
    events: AsyncIterator[StreamEvent], *, head: dict, persona_name: str
) -> AsyncIterator[bytes]:
    """The turn's stream events as ``chat.completion.chunk`` events (module doc).

    The model's raw pieces are cleaned as they arrive (:class:`~eros.llm.cleaning.StreamCleaner`
    gives exactly what the turn stores), and whatever the stored reply still holds after them
    is sent before the last chunk, so a client's copy of the reply is the stored one.
    """

    def chunk(delta: dict, finish_reason: str | None = None, **extra) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return _data({**head, "choices": [choice], **extra})

    cleaner = StreamCleaner()
    sent: list[str] = []
    # Leaving this iterator (the client went away) closes the turn's, which stops the model.
    async with aclosing(events):
        async for event in events:
            if event.name == "meta":
                yield chunk({"role": "assistant", "content": ""})
            elif event.name == "delta":
                text = cleaner.feed(event.data["text"])
                if text:
                    sent.append(text)
                    yield chunk({"content": text})
            elif event.name == "done":
                outcome: TurnOutcome = event.data
                rest = _rest_of_reply(outcome, "".join(sent), head=head, persona_name=persona_name)
                if rest:
                    yield chunk({"content": rest})
                yield chunk({}, "stop", eros=_eros_extension(outcome))
                yield b"data: [DONE]\n\n"
            elif event.name == "error":
                code, message = event.data["error"], event.data["message"]
                status = 502 if code == "upstream_error" else 500
                yield _data(openai_error(status, code=code, message=message))


def _rest_of_reply(outcome: TurnOutcome, shown: str, *, head: dict, persona_name: str) -> str:
    """What remains to send of the turn's reply (or ghost marker) after the ``shown`` text."""
    reply = _ghost_reply(persona_name) if outcome.ghosted else outcome.reply
    if reply.startswith(shown):
        return reply[len(shown) :]
    # Cleaned pieces are always a prefix of the stored reply; should that ever fail, the
    # stored reply stays authoritative and the client keeps what it has.
    logger.warning("streamed text of %s is not a prefix of its stored reply", head["id"])
    return ""


# --- chat completions: the view --------------------------------------------------------------


def _persona(model: str):
    """``(model_id, genome)`` of the active persona ``model`` names (404 ``model_not_found``)."""
    found = persona_for_model(model_id=model)
    if found is None:
        raise NotFound(
            f"the model {model!r} does not exist: GET /v1/models lists the personas",
            code="model_not_found",
            details={"model": ["no active persona has this model id, name or genome id"]},
        )
    return found


class OpenAIChatCompletionApi(OpenAIApiView):
    """One eros turn with the persona named by ``model``, answered as an OpenAI chat completion.

    Only the last user message is used; see the module documentation of
    ``companions.openai_apis`` (and the README) for how the rest of the request is treated.
    """

    InputSerializer = OpenAIChatCompletionInputSerializer
    OutputSerializer = OpenAIChatCompletionSerializer

    @extend_schema(
        tags=["openai"],
        operation_id="openai_chat_completions",
        description=COMPLETIONS_DESCRIPTION,
        request=InputSerializer,
        responses={
            (200, "application/json"): OutputSerializer,
            (200, CONTENT_TYPE): OpenApiResponse(
                response=CHUNK_SCHEMA,
                description="With `stream: true`: `chat.completion.chunk` events, then "
                "`data: [DONE]`.",
                examples=[OpenApiExample("reply", value=STREAM_EXAMPLE)],
            ),
            **openai_error_responses(400, 401, 404, 409, 413, 415, 502),
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        model_id, genome = _persona(params["model"])
        session = session_start(user_id=request.user.id, genome_id=genome.id).session
        user_message = turn_begin(session=session, content=params["text"])
        scopes = {"memory_scope": params["memory_scope"], "affinity_axes": params["affinity_axes"]}
        if params["stream"]:
            prepared = turn_prepare(session=session, user_message=user_message, **scopes)
            events = turn_stream(prepared=prepared, chat_model=get_chat_model())
            head = _completion_head(user_message, model_id, "chat.completion.chunk")
            return EventStreamResponse(
                _completion_chunks(events, head=head, persona_name=genome.name)
            )
        outcome = turn_run(session=session, user_message=user_message, **scopes)
        body = _completion(outcome, model_id=model_id, persona_name=genome.name)
        return Response(self.OutputSerializer(body).data)
