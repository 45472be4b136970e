"""Server-sent events: encoding and the streaming response that carries them.

An event is ``event: <name>\\ndata: <one line of JSON>\\n\\n`` (WHATWG HTML, "Server-sent
events"). JSON never contains a raw newline, so one ``data:`` line always suffices. Under ASGI
the response streams as it is produced; under WSGI Django would buffer it whole, which is why
eros is served by uvicorn.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from django.http import StreamingHttpResponse
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.utils.encoders import JSONEncoder

CONTENT_TYPE = "text/event-stream"


def sse_event(name: str, data: Any) -> bytes:
    """One encoded event; ``data`` is anything DRF's JSON encoder takes (UUIDs, datetimes)."""
    payload = json.dumps(data, cls=JSONEncoder, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n\n".encode()


class EventStreamResponse(StreamingHttpResponse):
    """A ``text/event-stream`` response over an async iterator of encoded events.

    Caches and proxies are told not to hold the stream back (``Cache-Control: no-cache``,
    ``X-Accel-Buffering: no`` for nginx).
    """

    def __init__(self, events: AsyncIterator[bytes], **kwargs):
        super().__init__(events, content_type=f"{CONTENT_TYPE}; charset=utf-8", **kwargs)
        self["Cache-Control"] = "no-cache"
        self["X-Accel-Buffering"] = "no"


class JsonErrorsNegotiation(DefaultContentNegotiation):
    """Content negotiation for event-stream routes: whatever ``Accept`` says, errors are JSON.

    A streaming client sends ``Accept: text/event-stream``; DRF's default negotiation would
    answer that with 406 since no renderer produces it. The stream itself is not rendered by
    DRF, so the only thing rendered is an error body, which is always JSON. Request parsing
    is negotiated as usual (415 for a body that is not JSON).
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
