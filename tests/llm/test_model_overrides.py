"""LLM_MODEL, LLM_MODEL_<TASK> and LLM_FALLBACK_MODEL over the routing file (resolve)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eros.llm.base import TASK_AFFINITY, TASK_CHAT, TASK_INSIGHT, TASK_MEMORY
from eros.llm.model_config import ModelConfig, ModelOverrides, ResolvedModel

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "model_config.toml"
TASKS = (TASK_CHAT, TASK_AFFINITY, TASK_INSIGHT, TASK_MEMORY)


@pytest.fixture(scope="module")
def shipped() -> ModelConfig:
    return ModelConfig.load(FIXTURE)


def test_llm_model_sets_every_task_and_drops_the_files_fallbacks(shipped):
    config = shipped.with_overrides(ModelOverrides(model="llama3.1"))

    for task in TASKS:
        resolved = config.resolve(task)
        # The file's temperature and max_tokens still apply; its OpenRouter fallbacks do not.
        assert resolved == ResolvedModel(
            "llama3.1", None, shipped.tasks[task].temperature, shipped.tasks[task].max_tokens
        )


def test_llm_fallback_model_is_the_fallback_of_every_task(shipped):
    config = shipped.with_overrides(ModelOverrides(model="llama3.1", fallback_model="qwen2.5"))

    assert {config.resolve(task).fallback_model for task in TASKS} == {"qwen2.5"}
    # Without LLM_MODEL it still replaces the file's fallbacks, and the file's models stay.
    only_fallback = shipped.with_overrides(ModelOverrides(fallback_model="qwen2.5"))
    chat = only_fallback.resolve(TASK_CHAT)
    assert (chat.model, chat.fallback_model) == ("x-ai/grok-4-fast", "qwen2.5")


def test_a_task_model_wins_over_llm_model_for_that_task_only(shipped):
    config = shipped.with_overrides(
        ModelOverrides(model="llama3.1", tasks=((TASK_MEMORY, "qwen2.5:14b"),))
    )

    assert config.resolve(TASK_MEMORY).model == "qwen2.5:14b"
    assert {config.resolve(t).model for t in (TASK_CHAT, TASK_AFFINITY, TASK_INSIGHT)} == {
        "llama3.1"
    }


def test_a_task_model_alone_keeps_the_file_for_the_other_tasks(shipped):
    config = shipped.with_overrides(ModelOverrides(tasks=((TASK_CHAT, "llama3.1"),)))

    assert config.resolve(TASK_CHAT) == ResolvedModel("llama3.1", None, 0.85, 600)
    assert config.resolve(TASK_INSIGHT) == shipped.resolve(TASK_INSIGHT)


def test_persona_model_beats_llm_model_but_not_the_chat_task_model(shipped):
    everyone = shipped.with_overrides(ModelOverrides(model="llama3.1"))
    assert everyone.resolve(TASK_CHAT, "mistral-nemo").model == "mistral-nemo"
    assert everyone.resolve(TASK_CHAT, "mistral-nemo").fallback_model is None

    chat_forced = shipped.with_overrides(
        ModelOverrides(model="llama3.1", tasks=((TASK_CHAT, "gemma2"),))
    )
    assert chat_forced.resolve(TASK_CHAT, "mistral-nemo").model == "gemma2"


def test_no_overrides_is_the_reference_resolution(shipped):
    empty = shipped.with_overrides(ModelOverrides(model="", fallback_model="", tasks=()))

    for task in (*TASKS, "unknown_task"):
        assert empty.resolve(task) == shipped.resolve(task)
    assert empty.resolve(TASK_CHAT, "") == shipped.resolve(TASK_CHAT, "")


def test_overrides_apply_to_tasks_the_file_does_not_list():
    config = ModelConfig.from_toml_str("").with_overrides(ModelOverrides(model="llama3.1"))

    assert config.resolve(TASK_AFFINITY) == ResolvedModel("llama3.1", None, 0.5, 200)


def test_llm_model_without_a_model_server_warns_at_start(settings, caplog):
    from eros.llm import providers

    settings.CHAT_PROVIDER = "auto"
    settings.LLM_BASE_URL = settings.OPENROUTER_API_KEY = ""
    settings.LLM_MODEL = "llama3.1"

    with caplog.at_level("WARNING", logger="eros.llm.providers"):
        providers.providers_check()

    assert "LLM_MODEL is set but no chat model server is: set LLM_BASE_URL" in caplog.text
    caplog.clear()
    settings.LLM_BASE_URL = "http://127.0.0.1:11434/v1"
    with caplog.at_level("WARNING", logger="eros.llm.providers"):
        providers.providers_check()
    assert "LLM_MODEL is set" not in caplog.text
