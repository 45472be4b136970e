"""Which chat model and embedder are in force, chosen by settings (DESIGN §2, §6).

``CHAT_PROVIDER`` / ``EMBEDDINGS_PROVIDER`` = ``auto`` picks a real provider when its key is
configured and the offline one otherwise. Tests inject fakes by keyword argument or by setting
``EROS_CHAT_MODEL`` / ``EROS_EMBEDDER`` to an instance (the settings switch of
``eros.llm.fakes``).
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from eros.llm.base import ChatModel, Embedder

if TYPE_CHECKING:
    from eros.llm.model_config import ModelConfig, ModelOverrides

logger = logging.getLogger(__name__)


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
def _embedder(name: str, dim: int) -> Embedder:
    if name == "local":
        from eros.llm.embeddings_local import LocalEmbedder

        return LocalEmbedder(dim=dim)
    if name == "voyage":
        from eros.llm.embeddings import VOYAGE_MODEL, VoyageEmbedder

        return VoyageEmbedder(
            api_key=settings.VOYAGE_API_KEY,
            model=settings.EMBEDDINGS_MODEL or VOYAGE_MODEL,
            dim=dim,
            timeout_s=settings.EMBEDDINGS_TIMEOUT_S,
            deadline_s=settings.LLM_DEADLINE_S,
        )
    if name == "openai":
        from eros.llm.embeddings import (
            OPENAI_EMBEDDINGS_MODEL,
            OpenAIEmbedder,
            embedding_prefix,
            parse_input_types,
        )

        return OpenAIEmbedder(
            base_url=settings.EMBEDDINGS_BASE_URL,
            api_key=settings.EMBEDDINGS_API_KEY,
            model=settings.EMBEDDINGS_MODEL or OPENAI_EMBEDDINGS_MODEL,
            dim=dim,
            timeout_s=settings.EMBEDDINGS_TIMEOUT_S,
            deadline_s=settings.LLM_DEADLINE_S,
            send_dimensions=settings.EMBEDDINGS_SEND_DIMENSIONS,
            query_prefix=embedding_prefix(settings.EMBEDDINGS_QUERY_PREFIX),
            document_prefix=embedding_prefix(settings.EMBEDDINGS_DOCUMENT_PREFIX),
            input_types=parse_input_types(settings.EMBEDDINGS_INPUT_TYPE),
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
    that is not http(s); an ``EMBEDDINGS_INPUT_TYPE`` that is neither a boolean nor two
    words; a model config file that cannot be read or parsed. ``auto`` never refuses: it falls
    back to the offline providers (DESIGN §2, §6; reference server §3.3).
    """
    from eros.llm.embeddings import parse_input_types
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
    if chat_provider_name() == "offline" and (settings.LLM_MODEL or settings.LLM_FALLBACK_MODEL):
        # Not an error (the offline mode works), but surely not what was meant.
        logger.warning(
            "LLM_MODEL is set but no chat model server is: set LLM_BASE_URL (Ollama, vLLM…) "
            "or OPENROUTER_API_KEY; the offline composer answers meanwhile"
        )
    try:
        parse_input_types(settings.EMBEDDINGS_INPUT_TYPE)
    except ValueError as exc:
        raise ImproperlyConfigured(f"EMBEDDINGS_INPUT_TYPE: {exc}") from exc
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


def get_embedder(*, dim: int | None = None) -> Embedder:
    """The embedder in force (a settings override instance wins).

    ``dim``: the vector size to ask for and check, default ``EMBEDDING_DIM``
    (``memory_reembed --dim`` embeds at the size the column is about to get).
    """
    override = getattr(settings, "EROS_EMBEDDER", None)
    if override is not None:
        return override
    return _embedder(embeddings_provider_name(), dim or settings.EMBEDDING_DIM)


@functools.cache
def _model_config(path: str, overrides: ModelOverrides) -> ModelConfig:
    from eros.llm.model_config import ModelConfig

    return ModelConfig.load(path).with_overrides(overrides)


def model_overrides() -> ModelOverrides:
    """The environment's choices: ``LLM_MODEL``, ``LLM_MODEL_<TASK>``, ``LLM_FALLBACK_MODEL``."""
    from eros.llm.model_config import ModelOverrides

    return ModelOverrides(
        model=settings.LLM_MODEL or None,
        fallback_model=settings.LLM_FALLBACK_MODEL or None,
        tasks=tuple(sorted((t, m) for t, m in settings.LLM_TASK_MODELS.items() if m)),
    )


def get_model_config() -> ModelConfig:
    """The task → model routing of ``MODEL_CONFIG_PATH`` with the environment's overrides.

    Cached per path and overrides; see :meth:`ModelConfig.resolve` for the precedence.
    """
    return _model_config(str(settings.MODEL_CONFIG_PATH), model_overrides())


def reset() -> None:
    """Forget cached providers (settings changed)."""
    _chat_model.cache_clear()
    _embedder.cache_clear()
    _model_config.cache_clear()
