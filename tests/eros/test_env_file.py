"""The ``.env`` file: read at start-up, the environment winning over it."""

from __future__ import annotations

from tests.commands import clean_env, manage, python

PRINT_SETTINGS = (
    "import django; django.setup(); from django.conf import settings as s;"
    " print(s.MAX_MESSAGE_CHARS, s.HISTORY_TURNS, s.EROS_ENV, s.ENV_FILE)"
)
LOAD = (
    "import os, sys; from pathlib import Path; from eros.env import load_env_file;"
    " print(load_env_file(Path(sys.argv[1])), os.environ.get('EROS_TEST_FROM_FILE'))"
)


def test_settings_read_the_env_file_and_the_environment_wins(tmp_path):
    env_file = tmp_path / "eros.env"
    env_file.write_text(
        "# comments and blank lines are fine\n\n"
        "MAX_MESSAGE_CHARS=123\n"
        "export HISTORY_TURNS=7\n"
        'EROS_ENV="development"\n'
    )
    result = python(PRINT_SETTINGS, env=clean_env(EROS_ENV_FILE=str(env_file), HISTORY_TURNS="9"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["123", "9", "development", str(env_file)]


def test_without_a_file_the_defaults_hold():
    result = python(PRINT_SETTINGS, env=clean_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["4000", "20", "development", "None"]


def test_the_env_file_is_looked_for_in_the_project_directory(tmp_path):
    (tmp_path / ".env").write_text("EROS_TEST_FROM_FILE=from-file\n")
    env = {k: v for k, v in clean_env().items() if k != "EROS_ENV_FILE"}
    result = python(LOAD, str(tmp_path), env=env)
    assert result.stdout.split() == [str(tmp_path / ".env"), "from-file"], result.stderr
    # Set but empty: no file at all.
    result = python(LOAD, str(tmp_path), env=clean_env(EROS_ENV_FILE=""))
    assert result.stdout.split() == ["None", "None"], result.stderr


def test_a_missing_env_file_named_explicitly_is_a_one_line_error(tmp_path):
    missing = tmp_path / "nowhere.env"
    result = manage("check", env=clean_env(EROS_ENV_FILE=str(missing)))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"eros: configuration error: EROS_ENV_FILE={str(missing)!r}: no such file"
    )


def test_a_production_refusal_can_come_from_the_file(tmp_path):
    env_file = tmp_path / "eros.env"
    env_file.write_text("EROS_ENV=production\nDJANGO_SECRET_KEY=short\n")
    result = manage("check", env=clean_env(EROS_ENV_FILE=str(env_file)))
    assert result.returncode == 2
    assert result.stderr.startswith("eros: configuration error: DJANGO_SECRET_KEY is too weak")
