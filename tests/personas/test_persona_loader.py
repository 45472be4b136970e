"""Persona file loader: fixture personas load, bad files say path, field and reason.

Pure tests: no database, no Django (run with `-p no:django`).
"""

import json
from pathlib import Path

import pytest

from personas.loader import (
    ArtMetadataError,
    PersonaFileError,
    load_persona_dir,
    load_persona_file,
    validate_art_metadata,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PERSONA_DIR = FIXTURES / "personas"
FIRST_WEEK = FIXTURES / "conversations" / "first_week.json"

# The tip_personality values the PDE maps to a gift style; reference eros-engine-core.md §1.5.
PDE_TIP_PERSONALITIES = {"gold_digger", "tsundere", "zen", "slow_warm"}

VALID = '''
name = "Tess"
system_prompt = """
You are Tess.
"""
'''


def write(directory: Path, filename: str, text: str) -> Path:
    path = directory / filename
    path.write_text(text, encoding="utf-8")
    return path


def persona_text(name: str = "Tess", art_metadata: str = "") -> str:
    text = f'name = "{name}"\nsystem_prompt = "You are {name}."\n'
    if art_metadata:
        text += f"\n[art_metadata]\n{art_metadata}\n"
    return text


# --- the fixture personas -------------------------------------------------------------


def test_the_three_fixture_personas_load():
    specs = load_persona_dir(PERSONA_DIR)

    assert [spec.name for spec in specs] == ["Idris", "Juno", "Noor"]
    assert all(spec.path.parent == PERSONA_DIR for spec in specs)


def test_fixture_personas_use_three_different_tip_personalities_the_pde_recognises():
    tips = [spec.tip_personality for spec in load_persona_dir(PERSONA_DIR)]

    assert set(tips) <= PDE_TIP_PERSONALITIES
    assert len(set(tips)) == 3


@pytest.mark.parametrize("spec", load_persona_dir(PERSONA_DIR), ids=lambda spec: spec.name)
def test_fixture_persona_is_complete_adult_and_has_no_model_override(spec):
    meta = spec.art_metadata

    assert spec.system_prompt.startswith(f"You are {spec.name},")
    assert 120 <= len(spec.system_prompt.split()) <= 200
    assert {"gender", "age", "mbti", "backstory", "speech_style", "quirks", "topics"} <= set(meta)
    assert isinstance(meta["age"], int) and meta["age"] >= 21
    assert meta["quirks"] and meta["topics"]
    assert "model" not in meta


def test_first_week_conversation_talks_to_a_fixture_persona_and_recalls_an_early_fact():
    script = json.loads(FIRST_WEEK.read_text(encoding="utf-8"))
    names = {spec.name for spec in load_persona_dir(PERSONA_DIR)}
    turns = [turn["user"] for turn in script["turns"]]
    early = " ".join(turns[:4])

    assert script["persona"] in names
    assert len(turns) >= 14
    assert any(len(text) <= 3 for text in turns) and any(len(text) >= 30 for text in turns)
    for recall in script["expect"]["recall"]:
        assert recall["turn_index"] >= 10
        assert recall["must_contain"] in early
        assert recall["must_contain"] not in " ".join(turns[4 : recall["turn_index"] + 1])
    for value in script["expect"]["facts"].values():
        assert value in early


# --- single files ---------------------------------------------------------------------


def test_name_and_system_prompt_are_trimmed(tmp_path):
    spec = load_persona_file(write(tmp_path, "tess.toml", VALID.replace('"Tess"', '"  Tess \\t"')))

    assert spec.name == "Tess"
    assert spec.system_prompt == "You are Tess."


def test_absent_art_metadata_becomes_an_empty_dict(tmp_path):
    spec = load_persona_file(write(tmp_path, "tess.toml", VALID))

    assert spec.art_metadata == {}
    assert spec.tip_personality is None
    assert spec.avatar_url is None


def test_optional_keys_are_read_and_unknown_top_level_keys_are_ignored(tmp_path):
    text = VALID + (
        'tip_personality = "zen"\navatar_url = "/static/personas/tess.svg"\nmood = "sunny"\n'
        '[art_metadata]\nage = 30\nquirks = ["hums"]\nfavourite_colour = "teal"\n'
    )

    spec = load_persona_file(write(tmp_path, "tess.toml", text))

    assert spec.tip_personality == "zen"
    assert spec.avatar_url == "/static/personas/tess.svg"
    assert spec.art_metadata == {"age": 30, "quirks": ["hums"], "favourite_colour": "teal"}


def test_missing_name_reports_path_and_field(tmp_path):
    path = write(tmp_path, "nameless.toml", 'system_prompt = "You are nobody."\n')

    with pytest.raises(PersonaFileError) as caught:
        load_persona_file(path)

    assert caught.value.path == path
    assert caught.value.field == "name"
    assert caught.value.reason == "is required"
    assert str(caught.value) == f"{path}: name: is required"


def test_blank_system_prompt_is_rejected(tmp_path):
    path = write(tmp_path, "blank.toml", 'name = "Tess"\nsystem_prompt = """\n   \n"""\n')

    with pytest.raises(PersonaFileError) as caught:
        load_persona_file(path)

    assert (caught.value.path, caught.value.field) == (path, "system_prompt")
    assert "blank" in caught.value.reason


def test_name_that_is_not_a_string_is_rejected(tmp_path):
    path = write(tmp_path, "number.toml", 'name = 7\nsystem_prompt = "You are seven."\n')

    with pytest.raises(PersonaFileError) as caught:
        load_persona_file(path)

    assert caught.value.field == "name"
    assert caught.value.reason == "must be a string, got an integer"


@pytest.mark.parametrize(
    "age",
    ['"thirty"', "2147483648", "-1", "true", "30.5"],
    ids=["string", "too-large", "negative", "boolean", "float"],
)
def test_age_that_is_not_an_i32_sized_integer_is_rejected(tmp_path, age):
    path = write(tmp_path, "tess.toml", persona_text(art_metadata=f"age = {age}"))

    with pytest.raises(PersonaFileError) as caught:
        load_persona_file(path)

    assert caught.value.path == path
    assert caught.value.field == "art_metadata.age"
    assert caught.value.reason == "must be an integer between 0 and 2147483647"
    assert str(caught.value) == (
        f"{path}: art_metadata.age: must be an integer between 0 and 2147483647"
    )


def test_largest_i32_age_is_accepted(tmp_path):
    spec = load_persona_file(
        write(tmp_path, "t.toml", persona_text(art_metadata="age = 2147483647"))
    )

    assert spec.art_metadata["age"] == 2147483647


@pytest.mark.parametrize(
    ("quirks", "reason"),
    [
        ('"hums a lot"', "must be an array of strings, got a string"),
        ('["hums", 3]', "must be an array of strings (item 1 is an integer)"),
    ],
    ids=["string", "mixed-array"],
)
def test_quirks_that_are_not_an_array_of_strings_are_rejected(tmp_path, quirks, reason):
    path = write(tmp_path, "tess.toml", persona_text(art_metadata=f"quirks = {quirks}"))

    with pytest.raises(PersonaFileError) as caught:
        load_persona_file(path)

    assert (caught.value.field, caught.value.reason) == ("art_metadata.quirks", reason)


def test_art_metadata_that_is_not_a_table_is_rejected(tmp_path):
    path = write(tmp_path, "tess.toml", VALID + 'art_metadata = "shy"\n')

    with pytest.raises(PersonaFileError) as caught:
        load_persona_file(path)

    assert caught.value.field == "art_metadata"
    assert caught.value.reason == "must be a table, got a string"


def test_toml_date_in_art_metadata_is_rejected_because_json_cannot_hold_it(tmp_path):
    path = write(tmp_path, "tess.toml", persona_text(art_metadata="extra = {since = 2020-01-01}"))

    with pytest.raises(PersonaFileError) as caught:
        load_persona_file(path)

    assert caught.value.field == "art_metadata.extra.since"


def test_toml_syntax_error_names_the_line(tmp_path):
    path = write(
        tmp_path, "broken.toml", 'name = "Tess"\nsystem_prompt = "You are Tess."\nage 30\n'
    )

    with pytest.raises(PersonaFileError) as caught:
        load_persona_file(path)

    assert caught.value.path == path
    assert caught.value.field is None
    assert "line 3" in caught.value.reason
    assert str(caught.value).startswith(f"{path}: invalid TOML: ")


def test_file_that_is_not_utf8_is_rejected(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Zoë"\nsystem_prompt = "You are Zoë."\n'.encode("latin-1"))

    with pytest.raises(PersonaFileError) as caught:
        load_persona_file(path)

    assert caught.value.field is None
    assert "UTF-8" in caught.value.reason


# --- validate_art_metadata (reused by admin) ------------------------------------------


def test_validate_art_metadata_returns_valid_data_unchanged():
    data = {"gender": "female", "age": 30, "quirks": [], "topics": ["tea"], "extra": {"x": [1]}}

    assert validate_art_metadata(data) is data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"mbti": 4}, "mbti"),
        ({"model": ""}, "model"),
        ({"model": 1}, "model"),
        ({"topics": "tea"}, "topics"),
        ({"extra": [1, float("nan")]}, "extra[1]"),
        ([], None),
    ],
)
def test_validate_art_metadata_names_the_bad_field(data, field):
    with pytest.raises(ArtMetadataError) as caught:
        validate_art_metadata(data)

    assert caught.value.field == field


# --- directories ----------------------------------------------------------------------


def test_directory_loads_toml_files_in_filename_order_and_skips_others(tmp_path):
    write(tmp_path, "b.toml", persona_text("Bea"))
    write(tmp_path, "a.toml", persona_text("Ada"))
    write(tmp_path, "notes.md", "not a persona")
    write(tmp_path, "c.toml.bak", "not = toml = at all")

    specs = load_persona_dir(tmp_path)

    assert [spec.name for spec in specs] == ["Ada", "Bea"]


def test_duplicate_names_in_a_directory_name_both_files(tmp_path):
    first = write(tmp_path, "a.toml", persona_text("Tess"))
    second = write(tmp_path, "b.toml", persona_text(" Tess "))

    with pytest.raises(PersonaFileError) as caught:
        load_persona_dir(tmp_path)

    assert caught.value.path == second
    assert caught.value.field == "name"
    assert str(first) in caught.value.reason
    assert str(first) in str(caught.value) and str(second) in str(caught.value)


def test_directory_with_one_bad_file_raises_instead_of_returning_the_good_ones(tmp_path):
    write(tmp_path, "a.toml", persona_text("Ada"))
    bad = write(tmp_path, "b.toml", 'name = "Bea"\n')
    write(tmp_path, "c.toml", persona_text("Cy"))

    with pytest.raises(PersonaFileError) as caught:
        load_persona_dir(tmp_path)

    assert (caught.value.path, caught.value.field) == (bad, "system_prompt")


def test_missing_directory_is_an_error(tmp_path):
    missing = tmp_path / "nope"

    with pytest.raises(PersonaFileError) as caught:
        load_persona_dir(missing)

    assert caught.value.path == missing
    assert caught.value.field is None


def test_directory_without_toml_files_is_an_error(tmp_path):
    write(tmp_path, "readme.txt", "nothing here")

    with pytest.raises(PersonaFileError) as caught:
        load_persona_dir(tmp_path)

    assert caught.value.reason == "holds no .toml persona files"
