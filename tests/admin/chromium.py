"""A headless Chromium driven over the DevTools protocol, enough to screenshot admin pages.

Debian's ``chromium`` package (``apt-get install -y chromium``); no other browser tooling. One
browser per ``with Chromium() as browser:`` block, with a fresh profile directory, no network
services of its own (background networking, component updates and sync are off), talking to
the test over one DevTools websocket on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

from tests.browser import ISOLATION_FLAGS, chromium_binary

FLAGS = [
    *ISOLATION_FLAGS,
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


class Chromium:
    """``with Chromium() as b: b.screenshot(url, path, cookies={...})``."""

    def __init__(self, binary: str | None = None, *, timeout: float = 30.0):
        self.binary = binary or chromium_binary()
        if not self.binary:
            raise RuntimeError("chromium is not installed (apt-get install -y chromium)")
        self.timeout = timeout
        self._next_id = 0

    def __enter__(self) -> Chromium:
        self.profile = Path(tempfile.mkdtemp(prefix="eros-chromium-"))
        self.proc = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        ws_url = self._devtools_url()
        self._connection = connect(ws_url, max_size=None, open_timeout=self.timeout)
        self.ws = self._connection.__enter__()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.send("Page.enable", session=True)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._connection.__exit__(None, None, None)
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            shutil.rmtree(self.profile, ignore_errors=True)

    def _devtools_url(self) -> str:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            match = re.search(r"DevTools listening on (ws://\S+)", line or "")
            if match:
                return match.group(1)
        raise RuntimeError("chromium did not open its DevTools port")

    def send(self, method: str, params: dict | None = None, *, session: bool = False) -> dict:
        """Send one DevTools command and return its result (events in between are skipped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=self.timeout))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _wait_for(self, event: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv(timeout=self.timeout))
            if message.get("method") == event and message.get("sessionId") == self.session:
                return
        raise TimeoutError(event)

    def open(self, url: str, *, cookies: dict[str, str] | None = None, width: int = 1400) -> None:
        """Load ``url`` (cookies set for its origin first) in a ``width``-pixel-wide window."""
        for name, value in (cookies or {}).items():
            self.send("Network.setCookie", {"name": name, "value": value, "url": url}, session=True)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )
        self.send("Page.navigate", {"url": url}, session=True)
        self._wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        return result["result"].get("value")

    def screenshot(self, path: Path, *, width: int = 1400, full_page: bool = True) -> Path:
        """Write a PNG of the open page (its whole height when ``full_page``) to ``path``."""
        height = self.evaluate("document.documentElement.scrollHeight") if full_page else 900
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        data = self.send("Page.captureScreenshot", params, session=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def screenshot_element(self, selector: str, path: Path) -> Path:
        """Write a PNG of the first element matching ``selector`` to ``path``."""
        box = self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect();"
            " return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]; })()"
        )
        x, y, width, height = box
        clip = {"x": x, "y": y, "width": width, "height": height, "scale": 1}
        params = {"format": "png", "captureBeyondViewport": True, "clip": clip}
        data = self.send("Page.captureScreenshot", params, session=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
