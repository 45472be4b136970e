"""``seed_personas`` and ``GET /comp/personas`` against the database."""

from __future__ import annotations

import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from personas.models import PersonaGenome
from tests.conftest import FIXTURES

SHIPPED = sorted(p.name for p in (FIXTURES / "personas").glob("*.toml"))


def _seed(*args) -> str:
    out = StringIO()
    call_command("seed_personas", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seeding_inserts_then_is_idempotent():
    first = _seed(str(FIXTURES / "personas"))
    assert f"{len(SHIPPED)} inserted, 0 refreshed, 0 unchanged" in first
    ids = dict(PersonaGenome.objects.values_list("name", "id"))
    second = _seed(str(FIXTURES / "personas"))
    assert f"0 inserted, 0 refreshed, {len(SHIPPED)} unchanged" in second
    assert dict(PersonaGenome.objects.values_list("name", "id")) == ids


@pytest.mark.django_db
def test_seeding_refreshes_in_place_keeping_the_id(tmp_path):
    folder = tmp_path / "personas"
    shutil.copytree(FIXTURES / "personas", folder)
    _seed(str(folder))
    victim = sorted(folder.glob("*.toml"))[0]
    genome = PersonaGenome.objects.get(name=_name_of(victim))
    PersonaGenome.objects.filter(id=genome.id).update(is_active=False, system_prompt="old")
    out = _seed(str(folder))
    assert "1 refreshed" in out
    genome.refresh_from_db()
    assert genome.is_active and genome.system_prompt != "old"


def _name_of(path) -> str:
    import tomllib

    return tomllib.loads(path.read_text())["name"]


@pytest.mark.django_db
def test_dry_run_writes_nothing():
    out = _seed(str(FIXTURES / "personas"), "--dry-run")
    assert "dry run" in out and "would be" in out
    assert PersonaGenome.objects.count() == 0


@pytest.mark.django_db
def test_a_bad_file_is_reported_with_path_and_field_and_nothing_is_written(tmp_path):
    folder = tmp_path / "personas"
    shutil.copytree(FIXTURES / "personas", folder)
    bad = folder / "zz_bad.toml"
    bad.write_text('name = "Bad"\nsystem_prompt = "x"\n[art_metadata]\nage = "old"\n')
    with pytest.raises(CommandError) as caught:
        _seed(str(folder))
    message = str(caught.value)
    assert str(bad) in message and "art_metadata.age" in message
    assert PersonaGenome.objects.count() == 0


@pytest.mark.django_db
def test_persona_list_returns_active_genomes_by_name(personas, client_for, alice):
    PersonaGenome.objects.create(name="Zed", system_prompt="x", is_active=False)
    response = client_for(alice).get("/comp/personas")
    assert response.status_code == 200
    names = [p["name"] for p in response.json()["personas"]]
    assert names == sorted(personas)
    first = response.json()["personas"][0]
    assert set(first) == {
        "id",
        "name",
        "system_prompt",
        "tip_personality",
        "avatar_url",
        "art_metadata",
        "is_active",
    }


@pytest.mark.django_db
def test_persona_list_needs_a_token(personas):
    from rest_framework.test import APIClient

    response = APIClient().get("/comp/personas")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
