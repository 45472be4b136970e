"""Streamed replies: the same turn as the sync route, with the reply sent as it is produced.

A streamed turn is ``turn_begin`` and ``turn_prepare`` (run by the route before the response
starts, so ownership, validation and a missing persona are still plain JSON errors), then
:func:`turn_stream`, an async iterator of :class:`StreamEvent`:

``meta``  once, first: ``{user_message_id, session_id, ghosted, typing_delay_ms}``.
``delta`` zero or more: ``{text}``, the reply's chunks as the model produces them (raw; the
          stored reply is the cleaned concatenation, sent again in ``done``).
``done``  once, last, on success: the :class:`~companions.services.chat_pipeline.TurnOutcome`
          (the route renders the sync route's fields). A ghost is ``meta`` then ``done``
          with no model call.
``error`` once, last, instead of ``done``: ``{error, message, user_message_id}``;
          ``upstream_error`` when the provider fails (before or mid-stream), ``internal``
          for anything else. The turn is then ``failed`` with a ``system_error`` row whose
          context keeps the partial reply (``partial_reply``) for operators.

The model is read in a worker thread that owns the provider's iterator, so the event loop
never blocks and no database transaction is open across the model call.

Client disconnect: the worker stops reading at the next chunk and closes the provider's
iterator (which closes its HTTP response, cancelling the upstream call). If any text had
been streamed, the assistant message stores that text (cleaned) with
``context.interrupted = true`` and the turn is ``replied`` with post-process as usual;
if none had, the turn is ``failed`` with a ``system_error`` row
(``context.interrupted = true``). A reply the model finished before the disconnect was
noticed is stored whole, as a normal reply.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connections

from companions.models import ChatMessage
from companions.services.chat_pipeline import (
    PreparedTurn,
    TurnOutcome,
    turn_fail,
    turn_finish_reply,
    typing_delay_ms,
)
from eros.llm.base import ChatModel, ChatRequest, ProviderError
from eros.llm.chunks import word_chunks
from eros.llm.cleaning import clean_response

logger = logging.getLogger(__name__)

UPSTREAM_MESSAGE = "the model provider failed; please retry"


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event: ``name`` is ``meta``, ``delta``, ``done`` or ``error``.

    ``data`` is a JSON-ready dict, except for ``done``, whose data is the turn's
    :class:`~companions.services.chat_pipeline.TurnOutcome`.
    """

    name: str
    data: Any


class ReplyStream:
    """The text chunks of one reply, and the means to cancel it.

    Uses ``chat_model.stream(request)`` when the model has one (chunks are raw model text),
    else ``chat_model.complete(request)`` cut into word chunks (the text is already cleaned
    by the provider). ``model`` names the model that answered when known (the requested one
    for streams). :meth:`close` closes the provider's iterator, which ends its HTTP call.
    Errors are the provider's :class:`~eros.llm.base.ProviderError`.
    """

    def __init__(self, chat_model: ChatModel, request: ChatRequest):
        self.model = request.model
        self._chat_model = chat_model
        self._request = request
        self._iterator: Iterator[str] | None = None
        self._streamed = callable(getattr(chat_model, "stream", None))

    def __iter__(self) -> ReplyStream:
        return self

    def __next__(self) -> str:
        if self._iterator is None:
            self._iterator = self._open()
        return next(self._iterator)

    def _open(self) -> Iterator[str]:
        if self._streamed:
            return iter(self._chat_model.stream(self._request))
        result = self._chat_model.complete(self._request)
        self.model = result.model
        return iter(word_chunks(result.text))

    def final_text(self, raw: str) -> str:
        """The reply to store for the concatenated chunks ``raw`` (cleaned once)."""
        return clean_response(raw) if self._streamed else raw

    def close(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()


def iter_reply_chunks(chat_model: ChatModel, request: ChatRequest) -> ReplyStream:
    """The reply to ``request`` as text chunks, streamed when the model can (see ReplyStream)."""
    return ReplyStream(chat_model, request)


async def turn_stream(
    *, prepared: PreparedTurn, chat_model: ChatModel
) -> AsyncIterator[StreamEvent]:
    """The events of a prepared turn (module doc); runs the model in a worker thread.

    Closing or cancelling this iterator (the client went away) tells the worker to stop; the
    worker then persists the turn as described in the module doc.
    """
    user_message = prepared.user_message
    meta = StreamEvent(
        "meta",
        {
            "user_message_id": str(user_message.id),
            "session_id": str(prepared.session.id),
            "ghosted": prepared.ghosted,
            "typing_delay_ms": typing_delay_ms(user_message.id),
        },
    )
    if prepared.request is None:
        yield meta
        yield StreamEvent(
            "done",
            TurnOutcome(
                prepared.session, user_message, None, prepared.plan, prepared.training_level
            ),
        )
        return

    loop = asyncio.get_running_loop()
    events: asyncio.Queue[StreamEvent] = asyncio.Queue()
    client_gone = threading.Event()

    def emit(event: StreamEvent) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, event)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            pass

    # The worker starts before ``meta`` is sent, so that whenever this iterator is left, the
    # worker is there to settle the turn (it is never left pending).
    worker = threading.Thread(
        target=_stream_reply,
        kwargs={
            "prepared": prepared,
            "chat_model": chat_model,
            "emit": emit,
            "client_gone": client_gone,
        },
        name=f"eros-stream-{user_message.id}",
    )
    worker.start()
    try:
        yield meta
        while True:
            event = await events.get()
            yield event
            if event.name in ("done", "error"):
                return
    finally:
        # Cancelled (disconnect) or closed early: the worker notices at its next chunk.
        client_gone.set()


def _stream_reply(
    *,
    prepared: PreparedTurn,
    chat_model: ChatModel,
    emit: Callable[[StreamEvent], None],
    client_gone: threading.Event,
) -> None:
    """Worker thread: read the model, emit deltas, then persist the turn (module doc)."""
    user_message = prepared.user_message
    parts: list[str] = []
    interrupted = False
    stream = iter_reply_chunks(chat_model, prepared.request)
    try:
        try:
            for chunk in stream:
                if client_gone.is_set():
                    interrupted = True
                    break
                if chunk:
                    parts.append(chunk)
                    emit(StreamEvent("delta", {"text": chunk}))
        finally:
            stream.close()
        raw = "".join(parts)
        if interrupted and not parts:
            turn_fail(
                user_message=user_message,
                reason="client disconnected before the reply began",
                context={**prepared.context, "streamed": True, "interrupted": True},
            )
            return
        extra = {"streamed": True, "interrupted": True} if interrupted else {"streamed": True}
        outcome = turn_finish_reply(
            prepared=prepared, text=stream.final_text(raw), model=stream.model, context=extra
        )
        emit(StreamEvent("done", outcome))
    except ProviderError as exc:
        logger.warning(
            "chat model failed mid-stream for session %s: %s", user_message.session_id, exc
        )
        _fail_quietly(prepared, reason=str(exc), parts=parts)
        emit(_error("upstream_error", UPSTREAM_MESSAGE, user_message.id))
    except Exception:
        logger.exception("streamed turn %s failed", user_message.id)
        _fail_quietly(prepared, reason="internal error while streaming", parts=parts)
        emit(_error("internal", "internal server error", user_message.id))
    finally:
        # This thread's own connections; the request's connections are Django's business.
        connections.close_all()


def _fail_quietly(prepared: PreparedTurn, *, reason: str, parts: list[str]) -> None:
    """Record a failed turn, unless it was settled already (a failure after the commit)."""
    try:
        settled = not ChatMessage.objects.filter(
            id=prepared.user_message.id, turn_status=ChatMessage.TURN_PENDING
        ).exists()
        if settled:
            return
        turn_fail(
            user_message=prepared.user_message,
            reason=reason,
            context={
                **prepared.context,
                "streamed": True,
                "partial_reply": "".join(parts),
                "chunks": len(parts),
            },
        )
    except Exception:  # the error event must still reach the client
        logger.exception("could not record the failed turn %s", prepared.user_message.id)


def _error(code: str, message: str, user_message_id) -> StreamEvent:
    return StreamEvent(
        "error", {"error": code, "message": message, "user_message_id": str(user_message_id)}
    )
