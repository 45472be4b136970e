"""``GET /comp/chat/{session_id}/history``: ids, total, has_more, clamping, chronological pages."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from companions.models import ChatMessage
from eros.llm.fakes import FakeChatModel
from tests.api import assert_error


@pytest.fixture
def thirty(alice_session):
    """30 messages, alternating user/assistant, one a minute; plus one system_error row."""
    start = timezone.now() - timedelta(hours=1)
    rows = [
        ChatMessage.objects.create(
            session=alice_session,
            role="user" if i % 2 == 0 else "assistant",
            content=f"m{i + 1}",
            sent_at=start + timedelta(minutes=i),
        )
        for i in range(30)
    ]
    ChatMessage.objects.create(
        session=alice_session,
        role="system_error",
        content="reply failed: provider said no",
        sent_at=start + timedelta(minutes=30),
    )
    return rows


def _get(client, session, query=""):
    return client.get(f"/comp/chat/{session.id}/history{query}")


@pytest.mark.django_db
def test_default_page_is_the_20_newest_in_chronological_order(
    alice_session, thirty, client_for, alice
):
    response = _get(client_for(alice), alice_session)
    assert response.status_code == 200
    body = response.json()
    assert body["session_id"] == str(alice_session.id)
    assert [m["content"] for m in body["messages"]] == [f"m{i}" for i in range(11, 31)]
    assert body["total"] == 30 and body["has_more"] is True
    first = body["messages"][0]
    assert set(first) == {"id", "role", "content", "sent_at"}
    assert first["id"] == str(thirty[10].id) and first["role"] == "user"


@pytest.mark.django_db
def test_offset_counts_back_from_the_newest(alice_session, thirty, client_for, alice):
    body = _get(client_for(alice), alice_session, "?limit=20&offset=20").json()
    assert [m["content"] for m in body["messages"]] == [f"m{i}" for i in range(1, 11)]
    assert body["has_more"] is False and body["total"] == 30


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?limit=0", ["m30"]),
        ("?limit=-7", ["m30"]),
        ("?limit=500", [f"m{i}" for i in range(1, 31)]),
        ("?limit=2&offset=-3", ["m29", "m30"]),
        ("?limit=5&offset=30", []),
        ("?offset=99999999999999", []),
    ],
    ids=["zero", "negative", "above-max", "negative-offset", "past-the-end", "huge-offset"],
)
def test_limit_and_offset_are_clamped(alice_session, thirty, client_for, alice, query, expected):
    response = _get(client_for(alice), alice_session, query)
    assert response.status_code == 200
    assert [m["content"] for m in response.json()["messages"]] == expected[-50:]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?limit=abc", "?offset=1.5", "?limit=1e3", "?limit=%2B5"])
def test_non_numeric_limit_or_offset_is_400(alice_session, client_for, alice, query):
    body = assert_error(_get(client_for(alice), alice_session, query), 400, "validation_error")
    assert set(body["details"]) <= {"limit", "offset"}


@pytest.mark.django_db
def test_history_takes_two_queries_after_authentication(alice_session, thirty, client_for, alice):
    client = client_for(alice)
    with CaptureQueriesContext(connection) as queries:
        assert _get(client, alice_session).status_code == 200
    # session (ownership), count, page
    assert len(queries) == 3, [q["sql"] for q in queries]


@pytest.mark.django_db
def test_history_of_an_empty_session(alice_session, client_for, alice):
    body = _get(client_for(alice), alice_session).json()
    assert body == {
        "session_id": str(alice_session.id),
        "messages": [],
        "total": 0,
        "has_more": False,
    }


@pytest.mark.django_db
def test_history_is_private(alice_session, thirty, client_for, bob, alice):
    assert_error(_get(client_for(bob), alice_session), 403, "forbidden")
    assert_error(_get(client_for(None), alice_session), 401, "unauthorized")
    unknown = client_for(alice).get(f"/comp/chat/{uuid.uuid4()}/history")
    assert_error(unknown, 404, "not_found")


@pytest.mark.django_db
def test_user_messages_carry_their_turn_status_and_a_failed_turn_is_visible(
    alice_session, client_for, alice, settings
):
    fake = FakeChatModel(lambda request: "lovely" if request.task == "chat_companion" else "{}")
    settings.EROS_CHAT_MODEL = fake
    client = client_for(alice)
    base = f"/comp/chat/{alice_session.id}"

    assert client.post(f"{base}/message", {"message": "hi"}, format="json").status_code == 200
    fake.fail_next()
    failed = client.post(f"{base}/message", {"message": "still there?"}, format="json")
    assert failed.status_code == 502
    gift = client.post(f"{base}/event/gift", {"deltas": {"warmth": 0.1}}, format="json")
    assert gift.status_code == 200
    queued = client.post(f"{base}/message_async", {"message": "later"}, format="json")
    assert queued.status_code == 202

    body = client.get(f"{base}/history").json()
    rows = [(m["role"], m["content"], m.get("turn_status")) for m in body["messages"]]
    assert rows == [
        ("user", "hi", "replied"),
        ("assistant", "lovely", None),
        ("user", "still there?", "failed"),
        ("gift_user", "gift", None),
        ("user", "later", "pending"),
    ]
    # Only user messages have the field; the failure's system_error row stays out of the list.
    assert [("turn_status" in m) for m in body["messages"]] == [True, False, True, False, True]
    assert body["total"] == 5
    assert ChatMessage.objects.filter(session=alice_session, role="system_error").count() == 1
    failed_row = body["messages"][2]
    assert failed_row["id"] == str(
        ChatMessage.objects.get(session=alice_session, content="still there?").id
    )


@pytest.mark.django_db
def test_a_ghosted_turn_shows_as_ghosted(alice_session, client_for, alice):
    message = ChatMessage.objects.create(
        session=alice_session, role="user", content="hello?", turn_status="ghosted"
    )
    body = client_for(alice).get(f"/comp/chat/{alice_session.id}/history").json()
    assert body["messages"] == [
        {
            "id": str(message.id),
            "role": "user",
            "content": "hello?",
            "sent_at": body["messages"][0]["sent_at"],
            "turn_status": "ghosted",
        }
    ]


@pytest.mark.django_db
def test_the_document_describes_turn_status_on_history_messages(client):
    document = client.get("/api-docs/openapi.json").json()
    schemas = document["components"]["schemas"]
    schema = schemas["HistoryMessage"]
    ref = schema["properties"]["turn_status"]["allOf"][0]["$ref"]
    enum = schemas[ref.rsplit("/", 1)[-1]]["enum"]
    assert enum == ["pending", "replied", "ghosted", "failed"]
    assert set(schema["required"]) == {"id", "role", "content", "sent_at"}
