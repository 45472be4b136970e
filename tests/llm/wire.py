"""A scripted ``httpx.MockTransport`` for provider contract tests.

``Wire(handler_or_responses)`` answers each request with the next scripted item: an
``httpx.Response``, an exception instance (raised as if the network failed), or a callable
``request -> Response``. The last item repeats. Every request is recorded with its JSON body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx

Item = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Wire:
    def __init__(self, script: Sequence[Item] | Callable[[httpx.Request], Any]):
        self.script = script
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.script):
            item = self.script(request)
        else:
            item = self.script[min(len(self.requests), len(self.script)) - 1]
        if isinstance(item, Exception):
            raise item
        if callable(item):
            return item(request)
        return item

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    @property
    def models(self) -> list[str]:
        return [body["model"] for body in self.bodies]


class Sleeps(list):
    """A ``sleep`` replacement that records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def completion(content: Any, **extra: Any) -> httpx.Response:
    """A 200 chat completion whose first choice says ``content``."""
    body = {
        "id": "gen-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        **extra,
    }
    return httpx.Response(200, json=body)


def status(code: int, text: str = "", **headers: str) -> httpx.Response:
    return httpx.Response(code, text=text or f"status {code}", headers=headers)


def sse(*events: Any, done: bool = True, comments: bool = True) -> httpx.Response:
    """A ``text/event-stream`` response with one ``data:`` line per event (dict or raw str)."""
    lines = [": OPENROUTER PROCESSING", ""] if comments else []
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event)
        lines += [f"data: {data}", ""]
    if done:
        lines += ["data: [DONE]", ""]
    return httpx.Response(
        200,
        content="\n".join(lines).encode(),
        headers={"content-type": "text/event-stream; charset=utf-8"},
    )


def delta(text: str | None = None, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = dict(fields)
    if text is not None:
        payload["content"] = text
    return {"choices": [{"index": 0, "delta": payload}]}


def embeddings(vectors: Sequence[Sequence[float]], *, shuffle: bool = False) -> httpx.Response:
    data = [
        {"object": "embedding", "index": i, "embedding": list(v)} for i, v in enumerate(vectors)
    ]
    if shuffle:
        data.reverse()
    return httpx.Response(200, json={"object": "list", "data": data, "model": "m"})
