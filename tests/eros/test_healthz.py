"""``GET /healthz``: public, and says which providers are in use."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_healthz_needs_no_token_and_reports_providers_and_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "service", "version", "timestamp", "providers", "database"}
    assert (body["status"], body["service"], body["database"]) == ("ok", "eros", "ok")
    assert set(body["providers"]) == {"chat", "embeddings"}
    assert body["version"] == "0.1.0"
