"""A model server on 127.0.0.1 that answers slowly: one byte at a time.

``TrickleStub(plan)`` serves ``POST /v1/chat/completions`` and ``POST /v1/embeddings`` in
background threads. ``plan(path, body)`` picks each answer:

* ``TRICKLE``: 200 with the headers at once, then one byte every ``byte_every_s`` (0.3 s) —
  spaces for a JSON answer (leading whitespace is valid JSON, and some providers send exactly
  that while they think), the bytes of ``": keep-alive"`` comments for a streamed one — until
  the client hangs up. Read timeouts never fire against it;
* ``FIRST_THEN_TRICKLE``: a streamed answer whose first delta arrives at once, then a trickle;
* ``SILENT``: nothing at all, not even the status line (a hung server);
* ``Status(code)``: that status at once, with a short body;
* ``Completion(text)``: a whole chat completion at once.

A trickle nobody hangs up on stops after ``max_trickle_s`` (so a broken test cannot hang),
closing the connection. Every request is recorded as a :class:`Seen` (path, model, when it
arrived and, once the client hung up, how long the server kept sending).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TRICKLE = "trickle"
FIRST_THEN_TRICKLE = "first-then-trickle"
SILENT = "silent"


@dataclass(frozen=True)
class Status:
    code: int


@dataclass(frozen=True)
class Completion:
    text: str


@dataclass
class Seen:
    path: str
    model: str | None
    stream: bool
    arrived: float  # time.monotonic()
    hung_up_after_s: float | None = None  # seconds of trickling before the client left


class TrickleStub:
    def __init__(
        self,
        plan: Callable[[str, dict[str, Any]], Any] = lambda path, body: TRICKLE,
        *,
        byte_every_s: float = 0.3,
        max_trickle_s: float = 30.0,
    ):
        self.plan = plan
        self.byte_every_s = byte_every_s
        self.max_trickle_s = max_trickle_s
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def models(self) -> list[str | None]:
        with self._lock:
            return [s.model for s in self.seen]

    def __enter__(self) -> TrickleStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def wait_for_hang_ups(self, timeout_s: float = 2.0) -> list[float | None]:
        """The trickle time of each request, once every trickling request was hung up on."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._lock:
                if all(s.hung_up_after_s is not None for s in self.seen):
                    break
            time.sleep(0.02)
        with self._lock:
            return [s.hung_up_after_s for s in self.seen]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                seen = Seen(
                    path=self.path,
                    model=body.get("model"),
                    stream=bool(body.get("stream")),
                    arrived=time.monotonic(),
                )
                with stub._lock:
                    stub.seen.append(seen)
                answer = stub.plan(self.path, body)
                if isinstance(answer, Status):
                    self._send(answer.code, "application/json", b'{"error": "stub"}')
                    seen.hung_up_after_s = 0.0
                elif isinstance(answer, Completion):
                    completion = {"choices": [{"message": {"content": answer.text}}]}
                    self._send(200, "application/json", json.dumps(completion).encode())
                    seen.hung_up_after_s = 0.0
                elif answer == SILENT:
                    stub._stop.wait(stub.max_trickle_s)
                    self.close_connection = True
                else:
                    self._trickle(seen, first=answer == FIRST_THEN_TRICKLE)

            def _send(self, code: int, content_type: str, payload: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _trickle(self, seen: Seen, *, first: bool) -> None:
                streamed = seen.stream
                self.send_response(200)
                self.send_header(
                    "Content-Type", "text/event-stream" if streamed else "application/json"
                )
                # No length: the body ends when the connection closes (it never does here).
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                started = time.monotonic()
                try:
                    if first:
                        event = {"choices": [{"delta": {"content": "Hello there"}}]}
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    filler = b": keep-alive\n\n" if streamed else b" "
                    i = 0
                    end = started + stub.max_trickle_s
                    while not stub._stop.is_set() and time.monotonic() < end:
                        self.wfile.write(filler[i % len(filler) : i % len(filler) + 1])
                        self.wfile.flush()
                        i += 1
                        time.sleep(stub.byte_every_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                seen.hung_up_after_s = time.monotonic() - started

        return Handler
