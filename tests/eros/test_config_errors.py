"""A configuration error is one line naming what to fix and exit code 2, never a traceback."""

from __future__ import annotations

import pytest

from tests.commands import clean_env, manage


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"Q_WORKERS": "two"}, "Q_WORKERS='two': expected an integer"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe': expected true or false"),
        ({"CHAT_PROVIDER": "openrouter"}, "CHAT_PROVIDER=openrouter needs OPENROUTER_API_KEY"),
        ({"MODEL_CONFIG_PATH": "/nonexistent/models.toml"}, "model config (MODEL_CONFIG_PATH)"),
        ({"DATABASE_URL": "nonsense"}, "reading settings: Scheme"),
    ],
    ids=["integer", "boolean", "provider-key", "model-config", "database-url"],
)
@pytest.mark.parametrize("command", [["check"], ["up", "--port", "0"]], ids=["check", "up"])
def test_a_configuration_error_is_one_line_and_exit_code_2(command, env, expected, tmp_path):
    result = manage(*command, env=clean_env(EROS_DATA_DIR=str(tmp_path), **env))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("eros: configuration error: ") and expected in line
    assert "Traceback" not in result.stderr
