"""Which chat model and embedder are in force, chosen by settings (DESIGN §2, §6).

``CHAT_PROVIDER`` / ``EMBEDDINGS_PROVIDER`` = ``auto`` picks a real provider when its key is
configured and the offline one otherwise. Tests inject fakes by keyword argument or by setting
``EROS_CHAT_MODEL`` / ``EROS_EMBEDDER`` to an instance (the settings switch of
``eros.llm.fakes``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from eros.llm.base import ChatModel, Embedder

if TYPE_CHECKING:
    from eros.llm.model_config import ModelConfig


def chat_provider_name() -> str:
    """The chat provider that ``auto`` resolves to: ``offline``, ``openrouter`` or ``openai``."""
    choice = settings.CHAT_PROVIDER
    if choice == "auto":
        if settings.LLM_BASE_URL:
            return "openai"
        return "openrouter" if settings.OPENROUTER_API_KEY else "offline"
    return choice


def embeddings_provider_name() -> str:
    """The embeddings provider that ``auto`` resolves to: ``local``, ``voyage`` or ``openai``."""
    choice = settings.EMBEDDINGS_PROVIDER
    if choice == "auto":
        if settings.EMBEDDINGS_BASE_URL:
            return "openai"
        return "voyage" if settings.VOYAGE_API_KEY else "local"
    return choice


@functools.cache
def _chat_model(name: str) -> ChatModel:
    if name == "offline":
        from eros.llm.offline import OfflineChatModel

        return OfflineChatModel()
    raise ImproperlyConfigured(
        f"chat provider {name!r} is not available in this build; set CHAT_PROVIDER=offline"
    )


@functools.cache
def _embedder(name: str) -> Embedder:
    if name == "local":
        from eros.llm.embeddings_local import LocalEmbedder

        return LocalEmbedder(dim=settings.EMBEDDING_DIM)
    raise ImproperlyConfigured(
        f"embeddings provider {name!r} is not available in this build; "
        "set EMBEDDINGS_PROVIDER=local"
    )


def get_chat_model() -> ChatModel:
    """The chat model in force (a settings override instance wins)."""
    override = getattr(settings, "EROS_CHAT_MODEL", None)
    return override if override is not None else _chat_model(chat_provider_name())


def get_embedder() -> Embedder:
    """The embedder in force (a settings override instance wins)."""
    override = getattr(settings, "EROS_EMBEDDER", None)
    return override if override is not None else _embedder(embeddings_provider_name())


@functools.cache
def _model_config(path: str) -> ModelConfig:
    from eros.llm.model_config import ModelConfig

    return ModelConfig.load(path)


def get_model_config() -> ModelConfig:
    """The task → model routing loaded from ``MODEL_CONFIG_PATH`` (cached per path)."""
    return _model_config(str(settings.MODEL_CONFIG_PATH))


def reset() -> None:
    """Forget cached providers (settings changed)."""
    _chat_model.cache_clear()
    _embedder.cache_clear()
    _model_config.cache_clear()
