"""``GET /comp/affinity/{session_id}``: only with EXPOSE_AFFINITY_DEBUG; the decayed view."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from companions.models import CompanionAffinity
from companions.services import affinity as affinity_service
from tests.api import assert_error


def _url(session):
    return f"/comp/affinity/{session.id}"


@pytest.mark.django_db
def test_debug_route_is_absent_unless_enabled(alice_session, client_for, alice, settings):
    settings.EXPOSE_AFFINITY_DEBUG = False
    affinity_service.affinity_get_or_create(session=alice_session)
    assert_error(client_for(alice).get(_url(alice_session)), 404, "not_found")
    assert_error(client_for(None).get(_url(alice_session)), 404, "not_found")


@pytest.mark.django_db
def test_debug_route_shows_the_vector_decayed_to_now_without_writing(
    alice_session, client_for, alice, settings
):
    settings.EXPOSE_AFFINITY_DEBUG = True
    row = affinity_service.affinity_get_or_create(session=alice_session)
    two_days_ago = timezone.now() - timedelta(days=2)
    CompanionAffinity.objects.filter(id=row.id).update(updated_at=two_days_ago, ghost_streak=1)

    response = client_for(alice).get(_url(alice_session))

    assert response.status_code == 200
    body = response.json()
    assert body["session_id"] == str(alice_session.id)
    assert body["warmth"] == pytest.approx(0.3, abs=1e-9)
    assert body["intrigue"] == pytest.approx(0.5 - 0.02, abs=1e-6)
    assert body["patience"] == pytest.approx(0.5 + 0.01, abs=1e-6)
    assert body["tension"] == pytest.approx(0.1 - 0.01, abs=1e-6)
    assert (body["ghost_streak"], body["total_ghosts"], body["last_ghost_at"]) == (1, 0, None)
    row.refresh_from_db()
    assert row.intrigue == 0.5 and row.updated_at == two_days_ago  # nothing persisted


@pytest.mark.django_db
def test_debug_route_is_private_and_needs_an_affinity_row(
    alice_session, client_for, alice, bob, settings
):
    settings.EXPOSE_AFFINITY_DEBUG = True
    assert_error(client_for(alice).get(_url(alice_session)), 404, "not_found")
    affinity_service.affinity_get_or_create(session=alice_session)
    assert_error(client_for(bob).get(_url(alice_session)), 403, "forbidden")
    assert_error(client_for(None).get(_url(alice_session)), 401, "unauthorized")
    assert_error(client_for(alice).get(f"/comp/affinity/{uuid.uuid4()}"), 404, "not_found")
