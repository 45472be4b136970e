"""Model ids of personas for OpenAI-compatible clients: slugs, clashes, and lookups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from personas.models import PersonaGenome
from personas.selectors import persona_for_model, persona_models


def _genome(name: str, *, age_days: int = 0, is_active: bool = True) -> PersonaGenome:
    genome = PersonaGenome.objects.create(name=name, system_prompt="", is_active=is_active)
    created = timezone.now() - timedelta(days=age_days)
    PersonaGenome.objects.filter(id=genome.id).update(created_at=created)
    genome.refresh_from_db()
    return genome


@pytest.mark.django_db
def test_a_model_id_is_the_slug_of_the_name_and_the_oldest_keeps_a_shared_slug():
    older = _genome("Noor", age_days=10)
    newer = _genome("NOOR!", age_days=1)
    zoe = _genome("Zoë Ann", age_days=3)
    unnamed = _genome("小红", age_days=2)
    _genome("Juno", is_active=False)

    models = dict((genome.id, model_id) for model_id, genome in persona_models())

    assert models == {
        older.id: "noor",
        newer.id: f"noor-{newer.id.hex[:8]}",
        zoe.id: "zoe-ann",
        unnamed.id: str(unnamed.id),
    }


@pytest.mark.django_db
def test_adding_a_namesake_never_renames_the_existing_persona():
    first = _genome("Idris", age_days=5)
    assert [m for m, _ in persona_models()] == ["idris"]
    _genome("Idris", age_days=0)
    assert dict((g.id, m) for m, g in persona_models())[first.id] == "idris"


@pytest.mark.django_db
def test_a_model_is_found_by_id_in_any_case_by_name_or_by_genome_id_and_only_if_active():
    juno = _genome("Juno")
    retired = _genome("Vera", is_active=False)

    for model in ("juno", "JUNO", "Juno", " juno ", str(juno.id), str(juno.id).upper()):
        assert persona_for_model(model_id=model) == ("juno", juno), model
    for model in ("vera", str(retired.id), "jun", "", "00000000-0000-4000-8000-000000000000"):
        assert persona_for_model(model_id=model) is None, model
