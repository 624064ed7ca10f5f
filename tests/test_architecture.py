"""The architecture's rules, checked on every test run: layers, purity, types, lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: What the pure layers must never drag in: web, HTTP, database and container libraries.
HEAVY = ("starlette", "httpx", "aiohttp", "uvicorn", "sqlalchemy", "alembic", "docker", "anyio")


def _imported_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return list(json.loads(out.stdout))


def test_importing_the_environment_layer_loads_no_web_http_database_or_hub_module() -> None:
    modules = _imported_after("import bindery.environment")
    heavy = [m for m in modules if m.split(".")[0] in HEAVY]
    parts = [m for m in modules if m.startswith(("bindery.hub", "bindery.binder", "bindery.builder",
                                                 "bindery.engine", "bindery.config"))]
    assert heavy == [] and parts == []


def test_importing_the_config_loader_loads_no_part() -> None:
    modules = _imported_after("import bindery.config")
    assert [m for m in modules if m.startswith(("bindery.hub", "bindery.binder"))] == []
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_import_contracts_hold() -> None:
    result = _run(str(BIN / "lint-imports"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.slow
def test_mypy_finds_no_error() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_ruff_finds_nothing() -> None:
    result = _run(str(BIN / "ruff"), "check", "bindery", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
