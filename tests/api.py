"""Helpers for API tests: the error-shape assertion and a database snapshot."""

from __future__ import annotations


def assert_error(response, status: int, code: str) -> dict:
    """``response`` is the JSON error shape with ``status`` and ``code``; returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"error", "message", "details"}
    text = response.content.decode()
    assert "Traceback" not in text and "SELECT" not in text
    return body


def assert_openai_error(response, status: int, code: str, param: str | None = None) -> dict:
    """``response`` is OpenAI's error shape ``{"error": {message, type, code, param}}`` with
    ``status``, ``code`` and (when given) ``param``; returns the inner error object."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "code", "param"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if param is not None:
        assert error["param"] == param, error
    text = response.content.decode()
    assert "Traceback" not in text and "SELECT" not in text
    return error


def db_snapshot() -> dict[str, int]:
    """Row counts of every table an API request could write."""
    from companions.models import (
        ChatMessage,
        ChatSession,
        CompanionAffinity,
        CompanionAffinityEvent,
    )
    from insights.models import CompanionInsights
    from memory.models import CompanionMemory
    from personas.models import PersonaInstance

    models = (
        ChatSession,
        ChatMessage,
        CompanionAffinity,
        CompanionAffinityEvent,
        CompanionMemory,
        CompanionInsights,
        PersonaInstance,
    )
    return {m.__name__: m.objects.count() for m in models}
