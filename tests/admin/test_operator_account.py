"""``manage.py up`` gives a development operator a way into admin."""

from __future__ import annotations

import stat

import pytest
from django.contrib.auth.models import User

from eros.management.commands.up import operator_account_note


@pytest.mark.django_db
def test_development_start_creates_an_admin_whose_password_is_kept_private(settings, tmp_path):
    settings.EROS_DATA_DIR = tmp_path
    note = operator_account_note()

    secret = tmp_path / "admin_password"
    password = secret.read_text().strip()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert note.startswith(f"admin login: admin / {password}")
    operator = User.objects.get(username="admin")
    assert operator.is_superuser and operator.is_staff and operator.check_password(password)

    assert operator_account_note() == note  # a second start reuses the account
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_development_start_leaves_existing_operators_alone(settings, tmp_path):
    settings.EROS_DATA_DIR = tmp_path
    User.objects.create_superuser("ops", password="chosen")
    assert "createsuperuser" in operator_account_note()
    assert not (tmp_path / "admin_password").exists()
    assert list(User.objects.values_list("username", flat=True)) == ["ops"]


@pytest.mark.django_db
def test_production_start_only_says_how_to_create_an_operator(settings, tmp_path):
    settings.EROS_DATA_DIR = tmp_path
    settings.EROS_ENV = "production"
    assert operator_account_note() == (
        "operators: create an admin account with `python manage.py createsuperuser`"
    )
    assert not User.objects.exists() and not (tmp_path / "admin_password").exists()
