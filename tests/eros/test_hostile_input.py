"""Hostile JSON bodies are 4xx in the one error shape and store nothing: deep nesting, lone
surrogates, numbers beyond the double range, oversized gift metadata. A provider's reply
holding what PostgreSQL cannot store is repaired instead."""

from __future__ import annotations

import json

import httpx
import pytest

from companions.models import ChatMessage, CompanionAffinityEvent
from eros.jsonsafe import nesting_exceeds, unstorable_value
from eros.llm.chat import OpenAIChatModel
from eros.llm.httpclient import RetryPolicy
from tests.api import assert_error, db_snapshot
from tests.llm.wire import Sleeps, Wire

#: 1,000 levels of arrays in under two kilobytes: this used to exhaust the decoder's stack.
DEEP = "[" * 1000 + "]" * 1000


def _post(client, path: str, body: str):
    return client.generic("POST", path, body, content_type="application/json")


def _gift(client, session, body: str):
    return _post(client, f"/comp/chat/{session.id}/event/gift", body)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route",
    [
        "/comp/chat/start",
        "/comp/chat/{session}/message",
        "/comp/chat/{session}/message_async",
        "/comp/chat/{session}/message/stream",
        "/comp/chat/{session}/event/gift",
    ],
)
def test_json_nested_a_thousand_levels_deep_is_400_on_every_json_route(
    alice_session, client_for, alice, route
):
    assert len(DEEP) < 2048
    before = db_snapshot()
    response = _post(client_for(alice), route.format(session=alice_session.id), DEEP)
    body = assert_error(response, 400, "bad_request")
    assert body["message"] == "JSON nested more than 32 levels deep"
    assert db_snapshot() == before


@pytest.mark.django_db
def test_nesting_up_to_the_limit_is_accepted_and_one_more_level_is_not(
    alice_session, client_for, alice, settings
):
    settings.JSON_MAX_DEPTH = 5

    def body(levels: int) -> str:
        # The body object is one level, "metadata" another, then levels - 2 arrays.
        inner = "[" * (levels - 2) + "]" * (levels - 2)
        return '{"deltas": {}, "metadata": {"x": ' + inner + "}}"

    client = client_for(alice)
    assert _gift(client, alice_session, body(5)).status_code == 200
    assert_error(_gift(client, alice_session, body(6)), 400, "bad_request")
    assert CompanionAffinityEvent.objects.filter(affinity__session=alice_session).count() == 1


@pytest.mark.django_db
def test_brackets_inside_strings_do_not_count_as_nesting(alice_session, client_for, alice):
    text = '[{"\\"[' * 100
    body = json.dumps({"deltas": {}, "label": "a", "metadata": {"note": text}})
    response = _gift(client_for(alice), alice_session, body)
    assert response.status_code == 200, response.content
    event = CompanionAffinityEvent.objects.get(affinity__session=alice_session)
    assert event.context["metadata"] == {"note": text}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ('{"note": "\\ud800"}', "metadata.note"),
        ('{"note": ["ok", "tail \\udfff"]}', "metadata.note[1]"),
        ('{"\\ud83d": 1}', "metadata.\\ud83d"),
    ],
    ids=["value", "array-item", "key"],
)
def test_a_lone_surrogate_in_gift_metadata_is_400_naming_where(
    alice_session, client_for, alice, metadata, field
):
    before = db_snapshot()
    body = '{"deltas": {"warmth": 0.1}, "metadata": ' + metadata + "}"
    response = _gift(client_for(alice), alice_session, body)
    error = assert_error(response, 400, "validation_error")
    assert field in error["details"], error
    assert "lone surrogate" in error["message"]
    assert db_snapshot() == before


@pytest.mark.django_db
def test_an_escaped_surrogate_pair_is_a_character_and_is_stored(alice_session, client_for, alice):
    body = '{"deltas": {}, "metadata": {"\\ud83c\\udf39": "\\ud83d\\ude00"}}'
    response = _gift(client_for(alice), alice_session, body)
    assert response.status_code == 200, response.content
    event = CompanionAffinityEvent.objects.get(affinity__session=alice_session)
    assert event.context["metadata"] == {"\U0001f339": "\U0001f600"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"deltas": {"warmth": 1' + "0" * 400 + "}}", "deltas.warmth"),
        ('{"deltas": {"trust": -1' + "0" * 400 + "}}", "deltas.trust"),
        ('{"deltas": {"warmth": 1e400}}', "deltas.warmth"),
        ('{"deltas": {}, "metadata": {"n": 1' + "0" * 400 + "}}", "metadata.n"),
        ('{"deltas": {}, "metadata": {"n": [-1e400]}}', "metadata.n[0]"),
    ],
    ids=["delta-10^400", "delta-minus-10^400", "delta-1e400", "metadata-int", "metadata-float"],
)
def test_numbers_beyond_the_double_range_are_400(alice_session, client_for, alice, body, field):
    before = db_snapshot()
    error = assert_error(_gift(client_for(alice), alice_session, body), 400, "validation_error")
    assert field in error["details"], error
    assert db_snapshot() == before


@pytest.mark.django_db
def test_large_but_representable_numbers_in_metadata_are_kept(alice_session, client_for, alice):
    body = '{"deltas": {}, "metadata": {"big": 1' + "0" * 300 + ', "small": 1e-300}}'
    response = _gift(client_for(alice), alice_session, body)
    assert response.status_code == 200, response.content
    listed = client_for(alice).get(f"/comp/chat/{alice_session.id}/gifts").json()
    assert listed["gifts"][0]["metadata"] == {"big": 10**300, "small": 1e-300}


@pytest.mark.django_db
def test_gift_metadata_is_limited_in_bytes_of_json(alice_session, client_for, alice, settings):
    settings.GIFT_METADATA_MAX_BYTES = 4096
    # {"note":"…"} is 11 bytes of JSON around the text; "é" is two bytes in UTF-8.
    at_limit = {"note": "é" * ((4096 - 11) // 2) + "x"}
    assert len(json.dumps(at_limit, ensure_ascii=False, separators=(",", ":")).encode()) == 4096
    over = {"note": at_limit["note"] + "x"}
    client = client_for(alice)

    response = _gift(client, alice_session, json.dumps({"deltas": {}, "metadata": at_limit}))
    assert response.status_code == 200, response.content

    before = db_snapshot()
    response = _gift(client, alice_session, json.dumps({"deltas": {}, "metadata": over}))
    error = assert_error(response, 413, "payload_too_large")
    assert error["message"] == "metadata is 4097 bytes as JSON; the limit is 4096"
    assert error["details"] == {"metadata": ["at most 4096 bytes as compact UTF-8 JSON"]}
    assert db_snapshot() == before


@pytest.mark.django_db
def test_a_megabyte_of_gift_metadata_is_refused(alice_session, client_for, alice):
    body = json.dumps({"deltas": {}, "metadata": {"blob": "x" * 1_000_000}})
    before = db_snapshot()
    assert_error(_gift(client_for(alice), alice_session, body), 413, "payload_too_large")
    assert db_snapshot() == before


def test_nesting_is_measured_outside_string_literals():
    assert not nesting_exceeds('{"a": "[[[[[[", "b": [[1]]}', 3)
    assert nesting_exceeds('{"a": [[[1]]]}', 3)
    assert not nesting_exceeds('{"a": [[1]]}', 3)
    assert not nesting_exceeds('["\\\\", ["\\"[[["]]', 2)


def test_unstorable_value_names_the_first_bad_place():
    assert unstorable_value({"a": [1, 2.5, "ok", None, True]}) is None
    assert unstorable_value({"a": [1, "\ud800"]})[0] == "a[1]"
    assert unstorable_value([{"x": float("inf")}])[0] == "[0].x"
    assert unstorable_value({"n": -(10**309)})[0] == "n"
    assert unstorable_value({"n": 10**308}) is None


@pytest.mark.django_db
def test_a_reply_with_a_lone_surrogate_and_nul_from_the_provider_is_stored_repaired(
    alice_session, client_for, alice, settings
):
    body = '{"choices": [{"message": {"role": "assistant", "content": "hi\\ud800 you\\u0000"}}]}'
    wire = Wire([httpx.Response(200, content=body.encode())])
    settings.EROS_CHAT_MODEL = OpenAIChatModel(
        base_url="https://provider.test/v1",
        api_key="k",
        name="stub",
        retry=RetryPolicy(sleep=Sleeps()),
        transport=wire.transport,
    )
    response = client_for(alice).post(
        f"/comp/chat/{alice_session.id}/message", {"message": "hello"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["reply"] == "hi\ufffd you\ufffd"
    stored = ChatMessage.objects.get(session=alice_session, role="assistant")
    assert stored.content == "hi\ufffd you\ufffd"
