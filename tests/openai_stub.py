"""An OpenAI-compatible model server on 127.0.0.1, for tests that need a real socket.

``OpenAIStub(answer=..., embed=...)`` serves, in a background thread:

* ``POST /v1/chat/completions``: ``answer(body) -> text``; the completion JSON, or with
  ``"stream": true`` the text as server-sent ``delta`` chunks word by word and ``[DONE]``;
* ``POST /v1/embeddings``: ``embed(text) -> list[float]`` for each input, with ``index``.

``delay_s`` makes every answer wait first (timeouts). Every request is recorded in
``requests`` as ``(path, headers, body)``. Use as a context manager; ``url`` is the base URL
to put in ``LLM_BASE_URL`` / ``EMBEDDINGS_BASE_URL``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIStub:
    def __init__(
        self,
        *,
        answer: Callable[[dict[str, Any]], str] = lambda body: "stub reply",
        embed: Callable[[str], list[float]] | None = None,
        delay_s: float = 0.0,
    ):
        self.answer = answer
        self.embed = embed
        self.delay_s = delay_s
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def bodies(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for p, _, body in self.requests if p == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.requests.append((self.path, dict(self.headers.items()), body))
                if stub.delay_s:
                    time.sleep(stub.delay_s)
                if self.path == "/v1/chat/completions":
                    text = stub.answer(body)
                    if body.get("stream"):
                        self._stream(text)
                    else:
                        self._json(
                            {
                                "id": "stub",
                                "object": "chat.completion",
                                "model": body.get("model"),
                                "choices": [
                                    {
                                        "index": 0,
                                        "message": {"role": "assistant", "content": text},
                                        "finish_reason": "stop",
                                    }
                                ],
                            }
                        )
                elif self.path == "/v1/embeddings" and stub.embed is not None:
                    data = [
                        {"object": "embedding", "index": i, "embedding": stub.embed(text)}
                        for i, text in enumerate(body["input"])
                    ]
                    self._json({"object": "list", "data": data, "model": body.get("model")})
                else:
                    self._json({"error": {"message": f"no route {self.path}"}}, status=404)

            def _json(self, payload: Any, status: int = 200) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _stream(self, text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for word in re.findall(r"\S+\s*", text):
                    chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler
