"""``GET /comp/user/{user_id}/profile``: the stored profile and its training level."""

from __future__ import annotations

import pytest

from insights.models import CompanionInsights
from insights.services import insight_merge
from tests.api import assert_error


@pytest.mark.django_db
def test_profile_returns_the_stored_insights_and_recomputed_level(client_for, alice):
    insight_merge(user_id=alice, facts={"city": "Lisbon", "interests": ["sailing"]})
    response = client_for(alice).get(f"/comp/user/{alice}/profile")
    assert response.status_code == 200
    assert response.json() == {
        "user_id": str(alice),
        "companion_insights": {"city": "Lisbon", "interests": ["sailing"]},
        "agent_training_level": 0.15,
    }


@pytest.mark.django_db
def test_profile_of_a_user_eros_knows_nothing_about_is_null_and_zero(client_for, alice):
    response = client_for(alice).get(f"/comp/user/{alice}/profile")
    assert response.json() == {
        "user_id": str(alice),
        "companion_insights": None,
        "agent_training_level": 0.0,
    }
    assert not CompanionInsights.objects.filter(user_id=alice).exists()


@pytest.mark.django_db
def test_another_users_profile_is_403_and_no_token_is_401(client_for, alice, bob):
    insight_merge(user_id=alice, facts={"city": "Lisbon"})
    body = assert_error(client_for(bob).get(f"/comp/user/{alice}/profile"), 403, "forbidden")
    assert "Lisbon" not in str(body)
    assert_error(client_for(None).get(f"/comp/user/{alice}/profile"), 401, "unauthorized")
