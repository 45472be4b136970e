"""Run ``manage.py`` (or Python) in a subprocess with a controlled environment.

Settings are read once per process, so what a variable does at start-up (refusals, the
``.env`` file, production defaults) is tested in a fresh process. The environment is the
test run's minus everything that configures eros, and no ``.env`` file is read unless a
test names one.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Prefixes and names of the variables that configure eros, dropped from the inherited env.
_CONFIGURING = (
    "EROS_",
    "SUPABASE_",
    "DJANGO_",
    "SECURE_",
    "LLM_",
    "OPENROUTER_",
    "VOYAGE_",
    "EMBEDDINGS_",
    "CHAT_PROVIDER",
    "DEBUG",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "MODEL_CONFIG_PATH",
    "Q_",
)

#: A production configuration that passes every refusal, with real (unreachable) providers.
PRODUCTION = {
    "EROS_ENV": "production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "eros.example.com",
    "SUPABASE_JWT_SECRET": secrets.token_urlsafe(40),
    "OPENROUTER_API_KEY": "sk-or-test",
    "VOYAGE_API_KEY": "pa-test",
}


def clean_env(**env: str) -> dict[str, str]:
    """The inherited environment without eros's variables, no ``.env`` file, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_CONFIGURING)}
    return {**base, "DJANGO_SETTINGS_MODULE": "eros.settings", "EROS_ENV_FILE": "", **env}


def manage(*args: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess:
    """``python manage.py *args`` with exactly ``env``; output captured as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def python(code: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``python -c code *args`` in the project directory with exactly ``env``."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
