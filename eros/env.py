"""Typed readers for environment variables, used by settings.

Every knob of eros is an environment variable with a safe default (listed in ``.env.example``).
A value that cannot be parsed is an error naming the variable, not a silent default. Variables
may also come from a ``.env`` file (:func:`load_env_file`); the environment wins over it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def load_env_file(base_dir: Path) -> Path | None:
    """Read ``KEY=value`` lines from the ``.env`` file into ``os.environ``; return its path.

    The file is ``EROS_ENV_FILE`` when that is set (it must exist; set it empty to read no
    file), else ``<base_dir>/.env`` when it exists. Variables already in the environment win
    over the file, so a deployment's environment can always override it. Returns the file
    read, or None. Raises ``ImproperlyConfigured`` when ``EROS_ENV_FILE`` names no file.
    """
    from dotenv import load_dotenv

    chosen = os.environ.get("EROS_ENV_FILE")
    if chosen is not None:
        if not chosen.strip():
            return None
        path = Path(chosen.strip()).expanduser()
        if not path.is_file():
            raise ImproperlyConfigured(f"EROS_ENV_FILE={chosen!r}: no such file")
    else:
        path = Path(base_dir) / ".env"
        if not path.is_file():
            return None
    load_dotenv(path, override=False)
    return path.resolve()


def envstr(name: str, default: str = "") -> str:
    """The variable's value with surrounding whitespace removed, or ``default`` when unset."""
    value = os.environ.get(name)
    return default if value is None else value.strip()


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (case-insensitive, returned lower-cased); unset gives ``default``."""
    value = envstr(name, default).lower() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def envbool(name: str, default: bool = False) -> bool:
    """``true/1/yes/on`` or ``false/0/no/off`` (case-insensitive); unset gives ``default``."""
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: expected true or false")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    """An integer, at least ``minimum`` when given."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        parsed = int(value.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r}: expected an integer") from exc
    if minimum is not None and parsed < minimum:
        raise ImproperlyConfigured(f"{name}={value!r}: must be at least {minimum}")
    return parsed


def envfloat(
    name: str, default: float, *, lo: float | None = None, hi: float | None = None
) -> float:
    """A float within ``[lo, hi]`` when bounds are given."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        parsed = float(value.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a number") from exc
    if (lo is not None and parsed < lo) or (hi is not None and parsed > hi):
        raise ImproperlyConfigured(f"{name}={value!r}: must be within [{lo}, {hi}]")
    return parsed


_RATE = re.compile(r"(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour|d|day)")
_RATE_OFF = {"off", "none", "0"}


def envrate(name: str, default: str) -> str | None:
    """A request rate ``N/period`` (period ``s``, ``min``, ``hour`` or ``day``, N ≥ 1), in the
    form DRF's throttles read; ``off`` (or ``0``, ``none``) gives ``None``, no limit."""
    value = envstr(name) or default
    if value.lower() in _RATE_OFF:
        return None
    match = _RATE.fullmatch(value.lower())
    if match is None or int(match[1]) < 1:
        raise ImproperlyConfigured(f"{name}={value!r}: expected N/period (e.g. 120/min) or off")
    return f"{int(match[1])}/{match[2]}"


def data_secret(data_dir, filename: str) -> str:
    """Read, or create with mode 0600, a random secret kept in the data dir (development only).

    Creation is atomic and exclusive, so processes starting at once agree on one value.
    """
    import secrets

    path = Path(data_dir) / filename
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{filename}.{os.getpid()}.tmp")
    tmp.write_text(secrets.token_urlsafe(48))
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()
