"""Task → model routing read from ``model_config.toml``.

Schema, defaults and resolution rules follow the reference (eros-engine-core.md §2.4): a
``[defaults]`` table and one ``[tasks.<name>]`` table per task; unknown keys are ignored.
eros's own file is ``fixtures/model_config.toml`` (``MODEL_CONFIG_PATH``). Unlike the
reference, every error names the file, the offending key and the reason, so a broken
deployment says exactly what to fix.

On top of the file, :class:`ModelOverrides` carries the operator's one-line choices from the
environment (``LLM_MODEL``, ``LLM_MODEL_<TASK>``, ``LLM_FALLBACK_MODEL``), so pointing eros at
a local server needs no copy of the file; :meth:`ModelConfig.resolve` gives the precedence.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

logger = logging.getLogger(__name__)

#: Compiled-in fallbacks (reference eros-engine-core.md §2.4). There is none for the
#: secondary ``fallback_model``.
FALLBACK_MODEL = "x-ai/grok-4-mini"
FALLBACK_TEMPERATURE = 0.5
FALLBACK_MAX_TOKENS = 200

U32_MAX = 2**32 - 1

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class ModelConfigError(Exception):
    """A model config file that cannot be read or does not match the schema.

    The message reads ``"<source>: <key>: <reason>"`` (the key is omitted for TOML syntax and
    read errors, whose reason carries the line number or OS error). ``source``, ``key`` and
    ``reason`` are also available as attributes.
    """

    def __init__(self, source: str, key: str | None, reason: str):
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Defaults:
    """The ``[defaults]`` table; every field is optional (``None`` when absent)."""

    fallback_model: str | None = None
    fallback_temperature: float | None = None
    fallback_max_tokens: int | None = None


@dataclass(frozen=True)
class TaskConfig:
    """One ``[tasks.<name>]`` table.

    ``model`` is required; ``max_tokens`` and ``dimensions`` are u32 (0..4294967295);
    ``dimensions`` is only meaningful for embedding tasks and is never read by ``resolve``.
    """

    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    description: str = ""
    fallback: str | None = None
    dimensions: int | None = None


@dataclass(frozen=True)
class ResolvedModel:
    """What a caller sends: primary model, optional secondary model, temperature, max tokens."""

    model: str
    fallback_model: str | None
    temperature: float
    max_tokens: int


@dataclass(frozen=True)
class ModelOverrides:
    """Model choices from the environment that win over the file.

    ``model``: the model of every task (``LLM_MODEL``). ``tasks``: ``(task, model)`` pairs, one
    task's model (``LLM_MODEL_<TASK>``, e.g. ``LLM_MODEL_CHAT_COMPANION``). ``fallback_model``:
    the fallback of every task (``LLM_FALLBACK_MODEL``). ``None`` or ``""`` means unset. Hashable,
    so a config with overrides can be cached.
    """

    model: str | None = None
    fallback_model: str | None = None
    tasks: tuple[tuple[str, str], ...] = ()

    def task_model(self, task: str) -> str | None:
        """The ``LLM_MODEL_<TASK>`` model of ``task``, or ``None``."""
        for name, model in self.tasks:
            if name == task and model:
                return model
        return None


@dataclass(frozen=True)
class ModelConfig:
    """A parsed model config: ``defaults`` plus a read-only ``tasks`` mapping by task name.

    ``overrides`` holds the environment's model choices (empty when read from a file alone).
    """

    defaults: Defaults = field(default_factory=Defaults)
    tasks: Mapping[str, TaskConfig] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "<string>"
    overrides: ModelOverrides = field(default_factory=ModelOverrides)

    def with_overrides(self, overrides: ModelOverrides) -> ModelConfig:
        """This config with ``overrides`` in force (the file's tables are shared, not copied)."""
        return replace(self, overrides=overrides)

    @classmethod
    def from_toml_str(cls, text: str, *, source: str = "<string>") -> ModelConfig:
        """Parse TOML text; an empty text gives an empty config.

        ``source`` names the origin in error messages. Raises :class:`ModelConfigError` for
        invalid TOML (with line and column), a task without ``model``, a value of the wrong
        type, and a u32 that is negative, fractional or above 4294967295.
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ModelConfigError(source, None, f"invalid TOML: {exc}") from exc
        return _parse(data, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ModelConfig:
        """Read and parse the UTF-8 TOML file at ``path``.

        Raises :class:`ModelConfigError` when the file cannot be read or decoded, or when
        :meth:`from_toml_str` rejects its content.
        """
        source = os.fspath(path)
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise ModelConfigError(source, None, f"cannot read file: {exc.strerror}") from exc
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelConfigError(source, None, f"not valid UTF-8: {exc}") from exc
        return cls.from_toml_str(text, source=source)

    def resolve(self, task: str, persona_override: str | None = None) -> ResolvedModel:
        """Pick model, fallback, temperature and max_tokens for ``task``.

        Rules (reference eros-engine-core.md §2.4, with eros's environment overrides first)::

            model          = LLM_MODEL_<TASK> ?? persona_override ?? LLM_MODEL
                             ?? task.model ?? defaults.fallback_model ?? "x-ai/grok-4-mini"
            fallback_model = LLM_FALLBACK_MODEL                       when LLM_MODEL or
                                                                      LLM_MODEL_<TASK> is set
                             LLM_FALLBACK_MODEL ?? task.fallback ?? defaults.fallback_model
                                                                      otherwise (may be None)
            temperature    = task.temperature ?? defaults.fallback_temperature ?? 0.5
            max_tokens     = task.max_tokens ?? defaults.fallback_max_tokens ?? 200

        Why this order: a persona's own model (its ``art_metadata.model``, the only
        ``persona_override``) is more specific than the operator's "every task" choice, but an
        operator naming one task's model means it for every persona (say, a local server that
        knows none of the personas' model names). With an environment model in force, the
        file's fallbacks (OpenRouter names) are not tried: a local server would not know them.

        Without overrides this is the reference: ``persona_override`` replaces only the model,
        even for an unknown task, and an empty-string override still wins. An unknown task logs
        a warning and uses the defaults.
        """
        spec = self.tasks.get(task)
        if spec is None:
            logger.warning("unknown model task %r, using defaults", task)
        d, env = self.defaults, self.overrides
        env_task_model = env.task_model(task)
        env_model = env.model or None
        model = _first(
            env_task_model,
            persona_override,
            env_model,
            spec.model if spec else None,
            d.fallback_model,
            FALLBACK_MODEL,
        )
        env_fallback = env.fallback_model or None
        if env_task_model or env_model:
            fallback_model = env_fallback
        else:
            fallback_model = _first(env_fallback, spec.fallback if spec else None, d.fallback_model)
        temperature = _first(
            spec.temperature if spec else None,
            d.fallback_temperature,
            FALLBACK_TEMPERATURE,
        )
        max_tokens = _first(
            spec.max_tokens if spec else None,
            d.fallback_max_tokens,
            FALLBACK_MAX_TOKENS,
        )
        return ResolvedModel(
            model=model,
            fallback_model=fallback_model,
            temperature=temperature,
            max_tokens=max_tokens,
        )


def _first(*values: Any) -> Any:
    """The first value that is not ``None`` (Rust's ``Option::or`` chain), else ``None``."""
    for value in values:
        if value is not None:
            return value
    return None


def _parse(data: dict[str, Any], source: str) -> ModelConfig:
    defaults_raw = _table(data.get("defaults"), source, "defaults")
    defaults = Defaults(
        fallback_model=_string(defaults_raw, source, "defaults", "fallback_model"),
        fallback_temperature=_float(defaults_raw, source, "defaults", "fallback_temperature"),
        fallback_max_tokens=_u32(defaults_raw, source, "defaults", "fallback_max_tokens"),
    )
    tasks_raw = _table(data.get("tasks"), source, "tasks")
    tasks: dict[str, TaskConfig] = {}
    for name, value in tasks_raw.items():
        prefix = f"tasks.{_key(name)}"
        table = _table(value, source, prefix)
        model = _string(table, source, prefix, "model")
        if model is None:
            raise ModelConfigError(source, f"{prefix}.model", "missing required key")
        tasks[name] = TaskConfig(
            model=model,
            temperature=_float(table, source, prefix, "temperature"),
            max_tokens=_u32(table, source, prefix, "max_tokens"),
            description=_string(table, source, prefix, "description") or "",
            fallback=_string(table, source, prefix, "fallback"),
            dimensions=_u32(table, source, prefix, "dimensions"),
        )
    return ModelConfig(defaults=defaults, tasks=MappingProxyType(tasks), source=source)


def _key(name: str) -> str:
    """A TOML key as it would be written in a dotted path (quoted when not a bare key)."""
    if _BARE_KEY.match(name):
        return name
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return type(value).__name__  # dates and times


def _table(value: Any, source: str, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelConfigError(source, key, f"expected a table, got {_type_name(value)}")
    return value


def _string(table: dict[str, Any], source: str, prefix: str, name: str) -> str | None:
    value = table.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ModelConfigError(
        source, f"{prefix}.{name}", f"expected a string, got {_type_name(value)}"
    )


def _float(table: dict[str, Any], source: str, prefix: str, name: str) -> float | None:
    value = table.get(name)
    if value is None:
        return None
    key = f"{prefix}.{name}"
    # TOML booleans are a separate type, but Python's bool is an int: reject it explicitly.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelConfigError(source, key, f"expected a number, got {_type_name(value)}")
    number = float(value)  # an integer is accepted, as by the reference (serde f64)
    if not math.isfinite(number):
        raise ModelConfigError(source, key, f"expected a finite number, got {value}")
    return number


def _u32(table: dict[str, Any], source: str, prefix: str, name: str) -> int | None:
    value = table.get(name)
    if value is None:
        return None
    key = f"{prefix}.{name}"
    if isinstance(value, float):
        # The reference's TOML reader refuses floats for u32 fields, even 600.0.
        fractional = math.isfinite(value) and not value.is_integer()
        kind = "a fractional number" if fractional else "a float"
        raise ModelConfigError(source, key, f"expected a whole number (u32), got {kind} {value}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelConfigError(
            source, key, f"expected a whole number (u32), got {_type_name(value)}"
        )
    if value < 0:
        raise ModelConfigError(source, key, f"must not be negative, got {value}")
    if value > U32_MAX:
        raise ModelConfigError(source, key, f"must be at most {U32_MAX}, got {value}")
    return value
