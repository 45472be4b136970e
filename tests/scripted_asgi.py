"""eros's ASGI application with a scripted chat model, for live-server tests (tests/live.py).

The chat model re-reads the JSON file named by ``EROS_TEST_CHAT_SCRIPT`` on every chat call:
``{"chunks": [...], "delay_s": float, "fail_after": int | null}`` and answers through
:class:`eros.llm.fakes.StreamingFakeChatModel`, so it streams like a provider with
``stream()``. Each streamed call appends its :class:`eros.llm.fakes.StreamRecord` as one JSON
line to ``EROS_TEST_STREAM_LOG`` when it ends (finished, failed or closed early). Every other
task (affinity evaluation, insight extraction) goes to the offline model. django-q2 runs
tasks in-process, so post-process has happened when a turn's transaction has committed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eros.settings")
application = get_asgi_application()

from django.conf import settings  # noqa: E402
from django_q.conf import Conf  # noqa: E402

from eros.llm.base import TASK_CHAT, ChatRequest, ChatResult  # noqa: E402
from eros.llm.fakes import StreamingFakeChatModel  # noqa: E402
from eros.llm.offline import OfflineChatModel  # noqa: E402


class ScriptedChatModel:
    name = "scripted"

    def __init__(self, script: Path, log: Path):
        self.script, self.log = script, log
        self.offline = OfflineChatModel()

    def _fake(self) -> StreamingFakeChatModel:
        script = json.loads(self.script.read_text())
        return StreamingFakeChatModel(
            chunks=script["chunks"],
            delay_s=script.get("delay_s") or 0.0,
            fail_after=script.get("fail_after"),
        )

    def complete(self, request: ChatRequest) -> ChatResult:
        if request.task != TASK_CHAT:
            return self.offline.complete(request)
        return self._fake().complete(request)

    def stream(self, request: ChatRequest):
        fake = self._fake()
        inner = fake.stream(request)
        try:
            yield from inner
        finally:
            inner.close()
            with self.log.open("a") as log:
                log.write(json.dumps(dataclasses.asdict(fake.streams[-1])) + "\n")


settings.EROS_CHAT_MODEL = ScriptedChatModel(
    Path(os.environ["EROS_TEST_CHAT_SCRIPT"]), Path(os.environ["EROS_TEST_STREAM_LOG"])
)
Conf.SYNC = True
