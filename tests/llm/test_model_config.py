"""Model config parsing and resolution: reference vectors M1–M7 and X23
(eros-engine-core.md §5.6, §5.7), the example-config table (§2.4), eros's error messages and
eros's shipped fixtures/model_config.toml."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from eros.llm.base import TASK_AFFINITY, TASK_CHAT, TASK_INSIGHT, TASK_MEMORY
from eros.llm.model_config import (
    Defaults,
    ModelConfig,
    ModelConfigError,
    ResolvedModel,
    TaskConfig,
)

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "model_config.toml"

SAMPLE = """
[defaults]
fallback_model = "x-ai/grok-4-mini"
fallback_temperature = 0.5
fallback_max_tokens = 200

[tasks.chat_companion]
model = "deepseek/deepseek-v3.2"
temperature = 0.85
max_tokens = 200
description = "AI companion chat"
"""

MINIMAL = """
[tasks.chat_companion]
model = "deepseek/chat"
temperature = 0.85
max_tokens = 600
"""

COMPAT = """
[defaults]
fallback_model = "x-ai/grok-4-mini"
fallback_temperature = 0.5
fallback_max_tokens = 200

[tasks.chat_companion]
model = "x-ai/grok-4-fast"
fallback = "deepseek/deepseek-chat-v3.2"
temperature = 0.85
max_tokens = 600
description = "AI companion chat"

[tasks.insight_extraction]
model = "x-ai/grok-4-mini"
fallback = "deepseek/deepseek-chat-v3.2"
temperature = 0.3
max_tokens = 400
description = "extract user facts from a chat turn"

[tasks.pde_decision]
model = "x-ai/grok-4-mini"
temperature = 0.5
max_tokens = 200
description = "reserved, not read"

[tasks.embedding]
model = "voyage-3-lite"
dimensions = 512
description = "reserved, not read"
"""

# The reference's examples/model_config.toml as described in eros-engine-core.md §2.4 (no
# [defaults]); the descriptions are ours.
EXAMPLE = """
[tasks.chat_companion]
model = "x-ai/grok-4-fast"
fallback = "deepseek/deepseek-chat-v3.2"
temperature = 0.85
max_tokens = 600
description = "companion replies"

[tasks.insight_extraction]
model = "x-ai/grok-4-mini"
fallback = "deepseek/deepseek-chat-v3.2"
temperature = 0.3
max_tokens = 400
description = "facts and profile fields"

[tasks.memory_extraction]
model = "anthropic/claude-haiku-4.5"
fallback = "x-ai/grok-4-mini"
temperature = 0.2
max_tokens = 800
description = "session-end memory distillation"

[tasks.pde_decision]
model = "x-ai/grok-4-mini"
temperature = 0.5
max_tokens = 200
description = "reserved"

[tasks.embedding]
model = "voyage-3-lite"
dimensions = 512
description = "reserved; the embedder ignores it"
"""


def test_m1_parse_minimal_config():
    config = ModelConfig.from_toml_str(MINIMAL)
    assert config.tasks["chat_companion"].model == "deepseek/chat"
    assert config.defaults == Defaults(None, None, None)


def test_m2_parses_full_config():
    config = ModelConfig.from_toml_str(SAMPLE)
    assert config.defaults.fallback_model == "x-ai/grok-4-mini"
    assert len(config.tasks) == 1


def test_m3_resolve_uses_task_model():
    resolved = ModelConfig.from_toml_str(SAMPLE).resolve("chat_companion")
    assert resolved == ResolvedModel(
        model="deepseek/deepseek-v3.2",
        fallback_model="x-ai/grok-4-mini",
        temperature=0.85,
        max_tokens=200,
    )


def test_m4_resolve_persona_override_wins():
    resolved = ModelConfig.from_toml_str(SAMPLE).resolve("chat_companion", "x-ai/grok-4-fast")
    assert (resolved.model, resolved.temperature, resolved.max_tokens) == (
        "x-ai/grok-4-fast",
        0.85,
        200,
    )


def test_m5_resolve_unknown_task_uses_defaults(caplog):
    with caplog.at_level(logging.WARNING, logger="eros.llm.model_config"):
        resolved = ModelConfig.from_toml_str(SAMPLE).resolve("nonexistent_task")
    assert resolved == ResolvedModel("x-ai/grok-4-mini", "x-ai/grok-4-mini", 0.5, 200)
    assert "nonexistent_task" in caplog.text


def test_m6_resolve_override_with_unknown_task_uses_defaults_for_params():
    resolved = ModelConfig.from_toml_str(SAMPLE).resolve("nonexistent_task", "x-ai/grok-4-fast")
    assert resolved == ResolvedModel("x-ai/grok-4-fast", "x-ai/grok-4-mini", 0.5, 200)


def test_m7_compat_fixture_locks_full_schema():
    config = ModelConfig.from_toml_str(COMPAT)
    assert config.defaults == Defaults("x-ai/grok-4-mini", 0.5, 200)
    assert set(config.tasks) == {
        "chat_companion",
        "insight_extraction",
        "pde_decision",
        "embedding",
    }
    assert config.tasks["chat_companion"] == TaskConfig(
        model="x-ai/grok-4-fast",
        temperature=0.85,
        max_tokens=600,
        description="AI companion chat",
        fallback="deepseek/deepseek-chat-v3.2",
        dimensions=None,
    )
    insight = config.tasks["insight_extraction"]
    assert (insight.model, insight.fallback, insight.temperature, insight.max_tokens) == (
        "x-ai/grok-4-mini",
        "deepseek/deepseek-chat-v3.2",
        0.3,
        400,
    )
    pde = config.tasks["pde_decision"]
    assert (pde.model, pde.fallback, pde.temperature) == ("x-ai/grok-4-mini", None, 0.5)
    embedding = config.tasks["embedding"]
    assert (embedding.model, embedding.dimensions) == ("voyage-3-lite", 512)
    assert config.resolve("chat_companion") == ResolvedModel(
        "x-ai/grok-4-fast", "deepseek/deepseek-chat-v3.2", 0.85, 600
    )
    overridden = config.resolve("chat_companion", "anthropic/claude-sonnet-4")
    assert (overridden.model, overridden.temperature, overridden.max_tokens) == (
        "anthropic/claude-sonnet-4",
        0.85,
        600,
    )


def test_x23_example_embedding_task_uses_compiled_fallbacks():
    resolved = ModelConfig.from_toml_str(EXAMPLE).resolve("embedding")
    assert resolved == ResolvedModel("voyage-3-lite", None, 0.5, 200)


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("chat_companion", ("x-ai/grok-4-fast", "deepseek/deepseek-chat-v3.2", 0.85, 600)),
        ("insight_extraction", ("x-ai/grok-4-mini", "deepseek/deepseek-chat-v3.2", 0.3, 400)),
        ("memory_extraction", ("anthropic/claude-haiku-4.5", "x-ai/grok-4-mini", 0.2, 800)),
        ("pde_decision", ("x-ai/grok-4-mini", None, 0.5, 200)),
        ("embedding", ("voyage-3-lite", None, 0.5, 200)),
        ("anything_else", ("x-ai/grok-4-mini", None, 0.5, 200)),
    ],
)
def test_example_config_resolves_as_the_reference_table_says(task, expected):
    assert ModelConfig.from_toml_str(EXAMPLE).resolve(task) == ResolvedModel(*expected)


def test_example_config_persona_override_keeps_chat_parameters():
    resolved = ModelConfig.from_toml_str(EXAMPLE).resolve("chat_companion", "x-ai/grok-4-fast")
    assert resolved == ResolvedModel("x-ai/grok-4-fast", "deepseek/deepseek-chat-v3.2", 0.85, 600)


def test_empty_string_override_still_wins():
    assert ModelConfig.from_toml_str(SAMPLE).resolve("chat_companion", "").model == ""


def test_empty_file_parses_and_resolves_to_compiled_fallbacks():
    config = ModelConfig.from_toml_str("")
    assert config.tasks == {}
    assert config.resolve("chat_companion") == ResolvedModel("x-ai/grok-4-mini", None, 0.5, 200)


def test_integer_temperature_is_accepted_as_float():
    config = ModelConfig.from_toml_str(
        '[defaults]\nfallback_temperature = 1\n[tasks.t]\nmodel = "m"\ntemperature = 0'
    )
    assert config.defaults.fallback_temperature == 1.0
    assert isinstance(config.defaults.fallback_temperature, float)
    assert config.resolve("t").temperature == 0.0


def test_unknown_keys_and_tables_are_ignored():
    config = ModelConfig.from_toml_str(
        '[server]\nport = 1\n[defaults]\nshiny = true\n[tasks.t]\nmodel = "m"\ntop_p = 0.9\n'
    )
    assert config.tasks["t"] == TaskConfig(model="m")


def test_tasks_mapping_is_read_only():
    config = ModelConfig.from_toml_str(MINIMAL)
    with pytest.raises(TypeError):
        config.tasks["x"] = TaskConfig(model="m")  # type: ignore[index]


def _error(text: str) -> ModelConfigError:
    with pytest.raises(ModelConfigError) as info:
        ModelConfig.from_toml_str(text, source="conf/models.toml")
    return info.value


def test_invalid_toml_names_the_file_and_the_line():
    error = _error('[tasks.chat_companion]\nmodel = "m"\nmax_tokens = = 3\n')
    assert str(error).startswith("conf/models.toml: invalid TOML: ")
    assert "line 3" in str(error)
    assert error.key is None


def test_missing_model_names_the_key():
    error = _error("[tasks.chat_companion]\ntemperature = 0.85\n")
    assert str(error) == "conf/models.toml: tasks.chat_companion.model: missing required key"
    assert (error.source, error.key, error.reason) == (
        "conf/models.toml",
        "tasks.chat_companion.model",
        "missing required key",
    )


@pytest.mark.parametrize(
    ("line", "key", "reason"),
    [
        ("max_tokens = -1", "max_tokens", "must not be negative, got -1"),
        (
            "max_tokens = 600.5",
            "max_tokens",
            "expected a whole number (u32), got a fractional number 600.5",
        ),
        ("max_tokens = 600.0", "max_tokens", "expected a whole number (u32), got a float 600.0"),
        ("max_tokens = 4294967296", "max_tokens", "must be at most 4294967295, got 4294967296"),
        ('max_tokens = "600"', "max_tokens", "expected a whole number (u32), got string"),
        ("dimensions = true", "dimensions", "expected a whole number (u32), got boolean"),
        ('temperature = "hot"', "temperature", "expected a number, got string"),
        ("temperature = true", "temperature", "expected a number, got boolean"),
        ("temperature = nan", "temperature", "expected a finite number, got nan"),
        ("fallback = 3", "fallback", "expected a string, got integer"),
        ("description = []", "description", "expected a string, got array"),
    ],
)
def test_wrong_value_names_file_key_and_reason(line, key, reason):
    error = _error(f'[tasks.chat_companion]\nmodel = "m"\n{line}\n')
    assert str(error) == f"conf/models.toml: tasks.chat_companion.{key}: {reason}"


def test_u32_upper_bound_is_accepted():
    config = ModelConfig.from_toml_str('[tasks.t]\nmodel = "m"\nmax_tokens = 4294967295\n')
    assert config.tasks["t"].max_tokens == 4294967295


def test_wrong_defaults_value_names_the_defaults_key():
    error = _error("[defaults]\nfallback_max_tokens = -5\n")
    assert error.key == "defaults.fallback_max_tokens"


def test_task_that_is_not_a_table_is_rejected():
    error = _error('[tasks]\nchat_companion = "x-ai/grok-4-fast"\n')
    assert str(error) == "conf/models.toml: tasks.chat_companion: expected a table, got string"


def test_task_names_needing_quotes_are_quoted_in_the_key():
    error = _error('[tasks."chat.v2"]\ntemperature = 1.0\n')
    assert error.key == 'tasks."chat.v2".model'


def test_load_names_the_path_in_errors(tmp_path):
    path = tmp_path / "model_config.toml"
    path.write_text('[tasks.memory_extraction]\nmodel = "m"\nmax_tokens = 1.5\n', encoding="utf-8")
    with pytest.raises(ModelConfigError) as info:
        ModelConfig.load(path)
    assert str(info.value).startswith(f"{path}: tasks.memory_extraction.max_tokens: ")


def test_load_of_missing_file_says_it_cannot_be_read(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(ModelConfigError) as info:
        ModelConfig.load(path)
    assert str(info.value).startswith(f"{path}: cannot read file")


def test_load_of_non_utf8_file_is_an_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[tasks.t]\nmodel = "caf\xe9"\n')
    with pytest.raises(ModelConfigError, match="not valid UTF-8"):
        ModelConfig.load(path)


def test_shipped_fixture_loads_and_resolves_all_four_tasks():
    config = ModelConfig.load(FIXTURE)
    assert config.source == str(FIXTURE)
    assert config.defaults == Defaults("x-ai/grok-4-mini", 0.5, 200)
    assert config.resolve(TASK_CHAT) == ResolvedModel(
        "x-ai/grok-4-fast", "deepseek/deepseek-chat-v3.2", 0.85, 600
    )
    assert config.resolve(TASK_AFFINITY) == ResolvedModel(
        "anthropic/claude-haiku-4.5", "x-ai/grok-4-mini", 0.3, 250
    )
    assert config.resolve(TASK_INSIGHT) == ResolvedModel(
        "x-ai/grok-4-mini", "deepseek/deepseek-chat-v3.2", 0.3, 400
    )
    assert config.resolve(TASK_MEMORY) == ResolvedModel(
        "anthropic/claude-haiku-4.5", "x-ai/grok-4-mini", 0.2, 800
    )
    assert all(task.description for task in config.tasks.values())


def test_shipped_fixture_unknown_task_uses_defaults_for_both_models():
    resolved = ModelConfig.load(FIXTURE).resolve("pde_decision")
    assert resolved == ResolvedModel("x-ai/grok-4-mini", "x-ai/grok-4-mini", 0.5, 200)
