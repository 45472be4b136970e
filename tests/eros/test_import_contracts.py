"""The import contracts in pyproject.toml hold, and a back edge breaks them (DESIGN §1).

Each case copies the five packages and pyproject.toml into a temporary directory, adds one
import (function-local, as back edges used to hide), and runs ``lint-imports`` there.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("eros", "companions", "memory", "insights", "personas")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "migrations", "static", "templates")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_function_local_import(tree: Path, module: str, statement: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(
        path.read_text() + f"\n\ndef _back_edge():\n    {statement}\n\n    return None\n"
    )


def test_the_tree_keeps_every_contract(tree):
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout
    assert "5 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        # a sibling app reaching up into the orchestrator
        ("memory.selectors", "from companions.models import ChatSession", "Apps depend one way"),
        ("insights.services", "import companions.services.sessions", "Apps depend one way"),
        # siblings are independent
        ("memory.services.turns", "from personas.models import PersonaInstance", "one way"),
        ("personas.selectors", "from insights.models import CompanionInsights", "one way"),
        # the kernel imports no app
        ("eros.api", "from memory.models import CompanionMemory", "Apps depend one way"),
        # model clients know no app and no database
        ("eros.llm.chat", "from django.db import connection", "Model clients"),
        ("eros.llm.offline.composer", "from insights.schema import FIELDS", "Model clients"),
        # services raise plain application errors, never HTTP ones
        ("companions.services.gifts", "from eros.api import error_body", "know no HTTP"),
        ("memory.selectors", "from rest_framework import exceptions", "know no HTTP"),
        # the domain stays pure
        ("companions.domain.pde", "from django.utils import timezone", "domain is pure"),
    ],
)
def test_a_back_edge_breaks_the_build(tree, module, statement, broken):
    add_function_local_import(tree, module, statement)
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout
    broken_lines = [line for line in result.stdout.splitlines() if "BROKEN" in line]
    assert any(broken in line for line in broken_lines), result.stdout


def _django_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        found.update(n for n in names if n == "django" or n.startswith("django."))
    return found


def test_model_clients_read_only_settings_from_django():
    # The forbidden contract allows eros.llm.providers -> django as a whole (import-linter
    # cannot name django.db); this pins what of Django it may use.
    used = {
        str(path.relative_to(ROOT)): _django_imports(path)
        for path in (ROOT / "eros" / "llm").rglob("*.py")
    }
    used = {path: names for path, names in used.items() if names}
    assert set(used) <= {"eros/llm/providers.py"}
    assert used.get("eros/llm/providers.py", set()) <= {"django.conf", "django.core.exceptions"}
