"""The playground page: on in development (`/` leads to it), its token, a real browser run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from companions.models import ChatMessage, ChatSession, CompanionAffinity
from eros.auth import get_validator
from eros.playground import PLAYGROUND_USER
from tests.browser import Chromium, chromium_binary
from tests.live import ROOT

#: A browser on this machine asking for the page by a loopback address.
LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost:8080"}
REPLY_CHUNKS = ["Oh,", " hello", " there!", " Tell", " me", " more."]
REPLY = "".join(REPLY_CHUNKS)


def _config(response) -> dict:
    match = re.search(
        r'<script id="playground-config" type="application/json">(.*?)</script>',
        response.content.decode(),
    )
    assert match, "no playground config on the page"
    return json.loads(match.group(1))


def test_the_playground_is_off_unless_enabled(client, settings):
    settings.EROS_PLAYGROUND = False
    response = client.get("/playground/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, True),
        ({"EROS_PLAYGROUND": "false"}, False),
        ({"DEBUG": "true", "EROS_PLAYGROUND": "false"}, True),
        ({"EROS_PLAYGROUND": "true"}, True),
    ],
    ids=["default", "off", "debug", "explicit"],
)
def test_the_playground_setting_is_on_in_development_unless_turned_off(env, expected):
    clean = {
        k: v for k, v in os.environ.items() if k not in ("DEBUG", "EROS_PLAYGROUND", "EROS_ENV")
    }
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            " print(settings.EROS_PLAYGROUND)",
        ],
        env={**clean, "DJANGO_SETTINGS_MODULE": "eros.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(expected)


def test_the_root_leads_to_the_playground_in_development(client, settings):
    settings.EROS_PLAYGROUND = True
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/playground/"


@pytest.mark.parametrize(("playground", "env"), [(False, "development"), (True, "production")])
def test_the_root_is_a_json_404_when_the_playground_is_off(client, settings, playground, env):
    settings.EROS_PLAYGROUND, settings.EROS_ENV = playground, env
    response = client.get("/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_the_enabled_playground_carries_a_token_for_the_playground_user(client, settings):
    settings.EROS_PLAYGROUND = True
    response = client.get("/playground/", **LOCAL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-store"
    config = _config(response)
    assert config["user_id"] == str(PLAYGROUND_USER)
    assert get_validator().validate(config["token"]) == PLAYGROUND_USER
    assert "/static/eros/playground.js" in response.content.decode()


def test_the_playground_mints_no_token_for_any_other_user(client, settings, alice):
    settings.EROS_PLAYGROUND = True
    response = client.get(f"/playground/?user={alice}", **LOCAL)
    assert response.status_code == 200
    assert _config(response) == {"token": None, "user_id": None}
    assert _config(client.get(f"/playground/?user={PLAYGROUND_USER}", **LOCAL))["token"]
    response = client.get("/playground/?user=not-a-uuid", **LOCAL)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


@pytest.mark.parametrize(
    "request_from",
    [
        {"REMOTE_ADDR": "192.0.2.7", "HTTP_HOST": "localhost:8080"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "rebound.example.com:8080"},
        {"REMOTE_ADDR": "::ffff:192.0.2.7", "HTTP_HOST": "127.0.0.1:8080"},
    ],
    ids=["remote-client", "dns-rebinding-host", "mapped-remote-client"],
)
def test_the_playground_mints_no_token_off_this_machine(client, settings, request_from):
    settings.EROS_PLAYGROUND = True
    response = client.get("/playground/", **request_from)
    assert response.status_code == 200
    assert _config(response) == {"token": None, "user_id": None}


@pytest.mark.parametrize(
    "request_from",
    [
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8080"},
        {"REMOTE_ADDR": "::1", "HTTP_HOST": "[::1]:8080"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "eros.localhost"},
    ],
    ids=["ipv4", "ipv6", "dot-localhost"],
)
def test_the_playground_mints_the_development_token_on_loopback(client, settings, request_from):
    settings.EROS_PLAYGROUND = True
    config = _config(client.get("/playground/", **request_from))
    assert get_validator().validate(config["token"]) == PLAYGROUND_USER


def test_in_production_the_playground_is_off_even_when_enabled(client, settings, alice):
    settings.EROS_PLAYGROUND = True
    settings.EROS_ENV = "production"
    for path in ("/playground/", f"/playground/?user={alice}"):
        response = client.get(path, **LOCAL)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_the_playground_script_is_served_by_eros(client):
    response = client.get("/static/eros/playground.js")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"/message/stream" in body
    assert b"http://" not in body and b"https://" not in body  # no CDN, nothing remote


@pytest.fixture
def playground_server(request):
    if chromium_binary() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return request.getfixturevalue("live_eros")


LAST_REPLY = "[...document.querySelectorAll('#transcript li')].at(-1)"


@pytest.mark.django_db(transaction=True)
def test_a_browser_chats_with_a_persona_through_the_streamed_playground(
    playground_server, personas, tmp_path
):
    user = PLAYGROUND_USER
    server = playground_server
    server.script(REPLY_CHUNKS, delay_s=0.12)
    persona = sorted(personas.values(), key=lambda g: g.name)[1]
    screenshot = django_settings.EROS_DATA_DIR / "artifacts" / "playground.png"

    with Chromium(chromium_binary(), tmp_path / "profile") as browser:
        browser.navigate(f"{server.base}/playground/")
        assert browser.wait_for("document.querySelectorAll('#persona-select option').length") == 3
        # The development token is on the page, so nobody is asked for one.
        assert browser.evaluate("getComputedStyle(document.getElementById('auth')).display") == (
            "none"
        )
        browser.evaluate(
            f"(() => {{ const s = document.getElementById('persona-select');"
            f" s.value = {json.dumps(str(persona.id))}; s.dispatchEvent(new Event('change'));"
            f" document.getElementById('start').click(); }})()"
        )
        browser.wait_for("!document.getElementById('message').disabled")
        assert persona.name in browser.evaluate(
            "document.getElementById('session-info').textContent"
        )

        messages = ["Hi! I live in Lisbon.", "I love bouldering on weekends.", "What about you?"]
        partials = []
        for message in messages:
            browser.evaluate(
                f"(() => {{ document.getElementById('message').value = {json.dumps(message)};"
                f" document.getElementById('send').click(); }})()"
            )
            # The reply appears while it is being streamed, before it is complete...
            partials.append(
                browser.wait_for(
                    f"{LAST_REPLY}.dataset.state === 'streaming' && {LAST_REPLY}.textContent"
                )
            )
            # ...and ends as the stored reply.
            browser.wait_for(f"{LAST_REPLY}.dataset.state === 'done'", timeout=15)
            assert browser.evaluate(f"{LAST_REPLY}.textContent") == REPLY
            browser.wait_for("!document.getElementById('send').disabled")

        for partial in partials:
            assert REPLY.startswith(partial) and 0 < len(partial) < len(REPLY)
        transcript = browser.evaluate(
            "[...document.querySelectorAll('#transcript li')]"
            ".map(li => [li.className, li.textContent])"
        )
        greeting = ["assistant", persona.greeting.replace("{{user}}", "you")]  # the new session's
        assert transcript == [greeting] + [
            row for message in messages for row in (["user", message], ["assistant", REPLY])
        ]
        assert "replied" in browser.evaluate("document.getElementById('turn-info').textContent")

        # A cold relationship at the tenth message: the turn is ghosted, and shown as such.
        session = ChatSession.objects.get(user_id=user)
        for i in range(6):
            ChatMessage.objects.create(
                session=session, role="user", content=f"earlier {i}", turn_status="replied"
            )
        CompanionAffinity.objects.filter(session=session).update(
            intrigue=0.05, patience=0.05, tension=0.5
        )
        browser.evaluate(
            "(() => { document.getElementById('message').value = '.';"
            " document.getElementById('send').click(); })()"
        )
        browser.wait_for(f"{LAST_REPLY}.dataset.state === 'ghosted'")
        browser.wait_for("document.getElementById('turn-info').textContent.startsWith('ghosted')")
        assert browser.evaluate(f"{LAST_REPLY}.className") == "ghost"
        # The affinity panel shows the vector (the debug route is on in this server).
        browser.wait_for("document.getElementById('affinity-label').textContent.length > 0")
        browser.wait_for("document.getElementById('affinity-bars').children.length >= 6")
        # Dream now: the chat is distilled at once; the panel shows what was remembered.
        browser.evaluate("document.getElementById('dream').click()")
        dreamt = browser.wait_for(
            "(t => t.startsWith('Dreaming: distilled') && t)"
            "(document.getElementById('dream-result').textContent)",
            timeout=15,
        )
        assert "Lives in Lisbon" in dreamt
        png = browser.screenshot(screenshot)
        problems = browser.problems(allow_network=("/comp/affinity/", "/comp/user/", "/history"))

    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert problems == []
    sent = ChatMessage.objects.filter(session=session, role="user").exclude(
        content__startswith="earlier"
    )
    assert [(m.content, m.turn_status) for m in sent.order_by("sent_at")] == [
        *((message, "replied") for message in messages),
        (".", "ghosted"),
    ]
    replies = ChatMessage.objects.filter(session=session, role="assistant").exclude(
        reply_to_id=None  # the greeting
    )
    assert [r.content for r in replies] == [REPLY] * 3
    session.refresh_from_db()
    assert session.classified_at is not None
