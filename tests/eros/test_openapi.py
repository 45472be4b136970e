"""The OpenAPI document describes every route, and ``/docs`` runs on local assets only.

The permission matrix at the end is driven by the document itself: every operation it lists
is tried without a token, with bob's token on alice's resources, and with unknown ids.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

from companions.services import affinity as affinity_service
from tests.api import assert_error, assert_openai_error, db_snapshot

#: Routes that are not part of the JSON API: the documents themselves and HTML pages.
NOT_API = ("admin/", "api-docs/openapi.json", "docs", "playground/", "static/")
METHODS = ("get", "post", "put", "patch", "delete")


def _routes(patterns=None, prefix=""):
    """(OpenAPI-style path, view class) for every URL route of the project."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), pattern.callback


@pytest.fixture(scope="module")
def document(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api-docs/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_every_url_route_is_in_the_document_with_each_of_its_methods(document):
    missing, checked = [], 0
    for path, callback in _routes():
        if path.lstrip("/").startswith(NOT_API) or path.lstrip("/") in NOT_API:
            continue
        if path == "/":  # the development redirect to the playground page
            continue
        checked += 1
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        assert view is not None, f"{path} is not a class-based API view"
        for method in METHODS:
            if hasattr(view, method) and method not in document["paths"].get(path, {}):
                missing.append(f"{method.upper()} {path}")
    assert missing == [], f"routes missing from /api-docs/openapi.json: {missing}"
    assert checked >= 12


def test_the_document_lists_the_routes_of_the_contract(document):
    expected = {
        ("get", "/healthz"),
        ("get", "/comp/personas"),
        ("post", "/comp/chat/start"),
        ("post", "/comp/chat/{session_id}/message"),
        ("post", "/comp/chat/{session_id}/message_async"),
        ("get", "/comp/chat/{session_id}/pending/{message_id}"),
        ("get", "/comp/chat/{session_id}/history"),
        ("get", "/comp/chat/{user_id}/sessions"),
        ("get", "/comp/user/{user_id}/profile"),
        ("post", "/comp/chat/{session_id}/event/gift"),
        ("get", "/comp/chat/{session_id}/gifts"),
        ("get", "/comp/affinity/{session_id}"),
        ("get", "/v1/models"),
        ("post", "/v1/chat/completions"),
    }
    listed = {(method, path) for path, method, _ in _operations(document)}
    assert expected <= listed


def test_every_operation_has_bodies_errors_and_the_right_security(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    error_ref = "#/components/schemas/Error"
    # The OpenAI-compatible routes answer in OpenAI's error shape, which clients of them expect.
    openai_error_ref = "#/components/schemas/OpenAIError"
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert success, where
        for code in success:
            if code == "204":
                continue
            media = "text/event-stream" if path.endswith("/stream") else "application/json"
            assert "schema" in responses[code]["content"][media], where
        if method == "post":
            assert "application/json" in operation["requestBody"]["content"], where
            assert {"400", "415"} <= set(responses), where
        public = path == "/healthz"
        if public:
            assert operation.get("security") in ([], None) or {} in operation["security"]
        else:
            assert {"bearerAuth": []} in operation["security"], where
            assert "401" in responses, where
        if "{" in path:
            assert "404" in responses, where
        if "{session_id}" in path or "{user_id}" in path:
            assert "403" in responses, where
        for code, response in responses.items():
            if code[0] in "45" and path != "/healthz":
                schema = response["content"]["application/json"]["schema"]
                ref = openai_error_ref if path.startswith("/v1/") else error_ref
                assert schema == {"$ref": ref}, where


def test_the_document_validates(tmp_path):
    target = tmp_path / "openapi.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(target),
    )
    assert target.stat().st_size > 1000


@pytest.mark.django_db
def test_docs_serve_swagger_ui_from_local_assets(client):
    response = client.get("/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    urls += re.findall(r"""["'](https?://[^"']+)["']""", html)
    assert urls, html
    external = [u for u in urls if re.match(r"^(https?:)?//", u)]
    assert external == [], f"/docs loads from elsewhere: {external}"
    for marker in ("cdn", "unpkg", "jsdelivr", "cloudflare"):
        assert marker not in html.lower()
    assets = [u for u in urls if u.startswith("/static/")]
    assert any(u.endswith("swagger-ui-bundle.js") for u in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert '"/api\\u002Ddocs/openapi.json"' in html  # the document, on this host


# --- permission matrix, driven by the document -----------------------------------------------

BODIES = {
    "/comp/chat/start": {"genome_id": "00000000-0000-4000-8000-000000000001"},
    "/comp/chat/{session_id}/message": {"message": "hi"},
    "/comp/chat/{session_id}/message_async": {"message": "hi"},
    "/comp/chat/{session_id}/event/gift": {"deltas": {"warmth": 0.1}},
}


def _call(client, method, path, **ids):
    url = path
    for name, value in ids.items():
        url = url.replace("{" + name + "}", str(value))
    body = BODIES.get(path, {})
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, body, format="json")


@pytest.mark.django_db
def test_every_protected_operation_is_401_without_a_token(
    document, alice_session, client_for, settings
):
    from companions.models import ChatMessage

    settings.EXPOSE_AFFINITY_DEBUG = True

    message = ChatMessage.objects.create(session=alice_session, role="user", content="x")
    before = db_snapshot()
    for path, method, operation in _operations(document):
        if {"bearerAuth": []} not in operation.get("security", []):
            continue
        response = _call(
            client_for(None),
            method,
            path,
            session_id=alice_session.id,
            user_id=alice_session.user_id,
            message_id=message.id,
            memory_id=uuid.uuid4(),
        )
        if path.startswith("/v1/"):
            assert_openai_error(response, 401, "invalid_api_key")
        else:
            assert_error(response, 401, "unauthorized")
    assert db_snapshot() == before


@pytest.mark.django_db
def test_every_session_and_user_operation_is_403_for_another_user(
    document, alice_session, client_for, alice, bob, settings
):
    from companions.models import ChatMessage

    settings.EXPOSE_AFFINITY_DEBUG = True
    affinity_service.affinity_get_or_create(session=alice_session)
    message = ChatMessage.objects.create(session=alice_session, role="user", content="x")
    before = db_snapshot()
    checked = 0
    for path, method, _ in _operations(document):
        if "{session_id}" not in path and "{user_id}" not in path:
            continue
        response = _call(
            client_for(bob),
            method,
            path,
            session_id=alice_session.id,
            user_id=alice,
            message_id=message.id,
            memory_id=uuid.uuid4(),
        )
        assert_error(response, 403, "forbidden")
        checked += 1
    assert checked >= 9
    assert db_snapshot() == before


@pytest.mark.django_db
def test_every_session_operation_is_404_for_an_unknown_session(
    document, alice_session, client_for, alice, settings
):
    settings.EXPOSE_AFFINITY_DEBUG = True
    before = db_snapshot()
    for path, method, _ in _operations(document):
        if "{session_id}" not in path:
            continue
        response = _call(
            client_for(alice), method, path, session_id=uuid.uuid4(), message_id=uuid.uuid4()
        )
        assert_error(response, 404, "not_found")
    assert db_snapshot() == before


def test_a_string_that_may_not_be_blank_says_so_in_its_pattern(document):
    # DRF trims whitespace, so "\f" is blank; the document must not call it valid.
    from eros.fields import NOT_BLANK_PATTERN

    label = document["components"]["schemas"]["GiftSendInputRequest"]["properties"]["label"]
    assert label["pattern"] == NOT_BLANK_PATTERN
    assert not re.match(label["pattern"].replace("\\u0000", "\x00"), "\f")
