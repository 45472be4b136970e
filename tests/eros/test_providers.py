"""Which providers the settings select, and the set-ups that refuse to start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from eros.llm import providers
from eros.llm.chat import OpenAIChatModel
from eros.llm.embeddings import OpenAIEmbedder, VoyageEmbedder
from eros.llm.embeddings_local import LocalEmbedder
from eros.llm.offline import OfflineChatModel

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_keys(settings):
    for name in (
        "OPENROUTER_API_KEY",
        "LLM_BASE_URL",
        "LLM_API_KEY",
        "VOYAGE_API_KEY",
        "EMBEDDINGS_BASE_URL",
        "EMBEDDINGS_API_KEY",
        "OPENROUTER_SITE_URL",
    ):
        setattr(settings, name, "")
    settings.CHAT_PROVIDER = "auto"
    settings.EMBEDDINGS_PROVIDER = "auto"
    settings.EROS_CHAT_MODEL = None
    settings.EROS_EMBEDDER = None
    return settings


def test_nothing_configured_means_the_offline_providers(no_keys):
    assert isinstance(providers.get_chat_model(), OfflineChatModel)
    assert isinstance(providers.get_embedder(), LocalEmbedder)
    providers.providers_check()


def test_an_openrouter_key_selects_openrouter_with_attribution_headers(no_keys):
    no_keys.OPENROUTER_API_KEY = "sk-or-1"
    no_keys.OPENROUTER_SITE_URL = "https://companions.example"
    model = providers.get_chat_model()
    assert isinstance(model, OpenAIChatModel) and model.name == "openrouter"
    assert model.base_url == "https://openrouter.ai/api/v1"
    headers = model._client.headers
    assert headers["authorization"] == "Bearer sk-or-1"
    assert headers["http-referer"] == "https://companions.example"
    assert headers["x-title"] == "eros"


def test_a_base_url_selects_the_openai_compatible_client(no_keys):
    no_keys.OPENROUTER_API_KEY = "sk-or-1"  # LLM_BASE_URL wins
    no_keys.LLM_BASE_URL = "http://127.0.0.1:11434/v1"
    no_keys.LLM_TIMEOUT_S = 12.0
    model = providers.get_chat_model()
    assert model.name == "openai" and model.base_url == "http://127.0.0.1:11434/v1"
    assert model._client.timeout.read == 12.0
    assert providers.chat_provider_name() == "openai"


def test_embedding_keys_select_voyage_or_the_openai_compatible_embedder(no_keys):
    no_keys.VOYAGE_API_KEY = "pa-1"
    embedder = providers.get_embedder()
    assert isinstance(embedder, VoyageEmbedder) and embedder.model == "voyage-3-lite"
    no_keys.EMBEDDINGS_BASE_URL = "http://127.0.0.1:11434/v1"
    no_keys.EMBEDDINGS_MODEL = "nomic-embed-text"
    embedder = providers.get_embedder()
    assert isinstance(embedder, OpenAIEmbedder) and embedder.model == "nomic-embed-text"
    assert embedder.dim == 512


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"CHAT_PROVIDER": "openrouter"}, "CHAT_PROVIDER=openrouter needs OPENROUTER_API_KEY"),
        ({"CHAT_PROVIDER": "openai"}, "CHAT_PROVIDER=openai needs LLM_BASE_URL"),
        ({"CHAT_PROVIDER": "claude"}, "CHAT_PROVIDER='claude': expected one of"),
        ({"EMBEDDINGS_PROVIDER": "voyage"}, "EMBEDDINGS_PROVIDER=voyage needs VOYAGE_API_KEY"),
        ({"EMBEDDINGS_PROVIDER": "openai"}, "EMBEDDINGS_PROVIDER=openai needs EMBEDDINGS_BASE_URL"),
        ({"EMBEDDINGS_PROVIDER": "bert"}, "EMBEDDINGS_PROVIDER='bert': expected one of"),
        ({"LLM_BASE_URL": "127.0.0.1:11434/v1"}, "LLM_BASE_URL='127.0.0.1:11434/v1': expected"),
    ],
)
def test_explicit_providers_without_their_keys_refuse(no_keys, overrides, message):
    for name, value in overrides.items():
        setattr(no_keys, name, value)
    with pytest.raises(ImproperlyConfigured) as caught:
        providers.providers_check()
    assert message in str(caught.value)


def test_explicit_providers_with_their_keys_pass(no_keys):
    no_keys.CHAT_PROVIDER = "openrouter"
    no_keys.OPENROUTER_API_KEY = "sk"
    no_keys.EMBEDDINGS_PROVIDER = "voyage"
    no_keys.VOYAGE_API_KEY = "pa"
    providers.providers_check()


def test_a_malformed_model_config_refuses_naming_file_key_and_reason(no_keys, tmp_path):
    path = tmp_path / "routing.toml"
    path.write_text('[tasks.chat_companion]\nmodel = "m"\nmax_tokens = -5\n')
    no_keys.MODEL_CONFIG_PATH = path
    with pytest.raises(ImproperlyConfigured) as caught:
        providers.providers_check()
    assert f"{path}: tasks.chat_companion.max_tokens: must not be negative" in str(caught.value)


def _boot(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_process_refuses_to_start_with_a_broken_model_config(tmp_path):
    path = tmp_path / "routing.toml"
    path.write_text('[tasks.affinity_evaluation]\ntemperature = "warm"\n')
    result = _boot(MODEL_CONFIG_PATH=str(path))
    assert result.returncode != 0
    assert f"{path}: tasks.affinity_evaluation.model: missing required key" in result.stderr


def test_the_process_refuses_to_start_with_voyage_chosen_and_a_blank_key():
    result = _boot(EMBEDDINGS_PROVIDER="voyage", VOYAGE_API_KEY="   ")
    assert result.returncode != 0
    assert "EMBEDDINGS_PROVIDER=voyage needs VOYAGE_API_KEY" in result.stderr
    assert _boot(EMBEDDINGS_PROVIDER="voyage", VOYAGE_API_KEY="pa-1").returncode == 0
