"""Which chat model and embedder are in force, chosen by settings (DESIGN §2, §6).

``CHAT_PROVIDER`` / ``EMBEDDINGS_PROVIDER`` = ``auto`` picks a real provider when its key is
configured and the offline one otherwise. Tests inject fakes by keyword argument or by setting
``EROS_CHAT_MODEL`` / ``EROS_EMBEDDER`` to an instance (the settings switch of
``eros.llm.fakes``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

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


CHAT_PROVIDERS = ("auto", "offline", "openrouter", "openai")
EMBEDDINGS_PROVIDERS = ("auto", "local", "voyage", "openai")


@functools.cache
def _chat_model(name: str) -> ChatModel:
    if name == "offline":
        from eros.llm.offline import OfflineChatModel

        return OfflineChatModel()
    if name in ("openrouter", "openai"):
        from eros.llm.chat import OPENAI_BASE_URL, OPENROUTER_BASE_URL, OpenAIChatModel

        if name == "openrouter":
            headers = {"X-Title": settings.OPENROUTER_APP_NAME}
            if settings.OPENROUTER_SITE_URL:
                headers["HTTP-Referer"] = settings.OPENROUTER_SITE_URL
            return OpenAIChatModel(
                name="openrouter",
                base_url=OPENROUTER_BASE_URL,
                api_key=settings.OPENROUTER_API_KEY,
                headers=headers,
                timeout_s=settings.LLM_TIMEOUT_S,
                deadline_s=settings.LLM_DEADLINE_S,
            )
        return OpenAIChatModel(
            name="openai",
            base_url=settings.LLM_BASE_URL or OPENAI_BASE_URL,
            api_key=settings.LLM_API_KEY,
            timeout_s=settings.LLM_TIMEOUT_S,
            deadline_s=settings.LLM_DEADLINE_S,
        )
    raise ImproperlyConfigured(
        f"CHAT_PROVIDER={name!r}: expected one of {', '.join(CHAT_PROVIDERS)}"
    )


@functools.cache
def _embedder(name: str) -> Embedder:
    if name == "local":
        from eros.llm.embeddings_local import LocalEmbedder

        return LocalEmbedder(dim=settings.EMBEDDING_DIM)
    if name == "voyage":
        from eros.llm.embeddings import VOYAGE_MODEL, VoyageEmbedder

        return VoyageEmbedder(
            api_key=settings.VOYAGE_API_KEY,
            model=settings.EMBEDDINGS_MODEL or VOYAGE_MODEL,
            dim=settings.EMBEDDING_DIM,
            timeout_s=settings.EMBEDDINGS_TIMEOUT_S,
            deadline_s=settings.LLM_DEADLINE_S,
        )
    if name == "openai":
        from eros.llm.embeddings import OPENAI_EMBEDDINGS_MODEL, OpenAIEmbedder

        return OpenAIEmbedder(
            base_url=settings.EMBEDDINGS_BASE_URL,
            api_key=settings.EMBEDDINGS_API_KEY,
            model=settings.EMBEDDINGS_MODEL or OPENAI_EMBEDDINGS_MODEL,
            dim=settings.EMBEDDING_DIM,
            timeout_s=settings.EMBEDDINGS_TIMEOUT_S,
            deadline_s=settings.LLM_DEADLINE_S,
            send_dimensions=settings.EMBEDDINGS_SEND_DIMENSIONS,
        )
    raise ImproperlyConfigured(
        f"EMBEDDINGS_PROVIDER={name!r}: expected one of {', '.join(EMBEDDINGS_PROVIDERS)}"
    )


def providers_check() -> None:
    """Refuse to start with a provider set-up that cannot work; called when Django starts.

    Raises ``ImproperlyConfigured`` naming the variable (or the model config file, key and
    reason) for: an unknown ``CHAT_PROVIDER``/``EMBEDDINGS_PROVIDER``; an explicitly chosen
    provider without its key (``openrouter`` without ``OPENROUTER_API_KEY``, ``voyage``
    without ``VOYAGE_API_KEY``, ``openai`` with neither a base URL nor a key); a base URL
    that is not http(s); a model config file that cannot be read or parsed. ``auto`` never
    refuses: it falls back to the offline providers (DESIGN §2, §6; reference server §3.3).
    """
    from eros.llm.model_config import ModelConfigError

    chat, embeddings = settings.CHAT_PROVIDER, settings.EMBEDDINGS_PROVIDER
    if chat not in CHAT_PROVIDERS:
        raise ImproperlyConfigured(
            f"CHAT_PROVIDER={chat!r}: expected one of {', '.join(CHAT_PROVIDERS)}"
        )
    if embeddings not in EMBEDDINGS_PROVIDERS:
        raise ImproperlyConfigured(
            f"EMBEDDINGS_PROVIDER={embeddings!r}: expected one of {', '.join(EMBEDDINGS_PROVIDERS)}"
        )
    _require(
        chat == "openrouter",
        settings.OPENROUTER_API_KEY,
        "CHAT_PROVIDER=openrouter",
        "OPENROUTER_API_KEY",
    )
    _require(
        chat == "openai",
        settings.LLM_BASE_URL or settings.LLM_API_KEY,
        "CHAT_PROVIDER=openai",
        "LLM_BASE_URL (or LLM_API_KEY for api.openai.com)",
    )
    _require(
        embeddings == "voyage",
        settings.VOYAGE_API_KEY,
        "EMBEDDINGS_PROVIDER=voyage",
        "VOYAGE_API_KEY",
    )
    _require(
        embeddings == "openai",
        settings.EMBEDDINGS_BASE_URL or settings.EMBEDDINGS_API_KEY,
        "EMBEDDINGS_PROVIDER=openai",
        "EMBEDDINGS_BASE_URL (or EMBEDDINGS_API_KEY for api.openai.com)",
    )
    for variable in ("LLM_BASE_URL", "EMBEDDINGS_BASE_URL", "OPENROUTER_SITE_URL"):
        value = getattr(settings, variable, "")
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ImproperlyConfigured(f"{variable}={value!r}: expected an http(s) URL")
    try:
        get_model_config()
    except ModelConfigError as exc:
        raise ImproperlyConfigured(f"model config (MODEL_CONFIG_PATH): {exc}") from exc


def _require(chosen: bool, value: str, choice: str, needs: str) -> None:
    if chosen and not value:
        raise ImproperlyConfigured(f"{choice} needs {needs}; it is empty")


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
