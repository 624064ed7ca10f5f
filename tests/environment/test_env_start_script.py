"""The image's entrypoint script, run for real with /bin/sh (no engine needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bindery.environment.scripts import BINDERY_START


@pytest.fixture
def entrypoint(tmp_path: Path) -> Path:
    path = tmp_path / "bindery-start"
    path.write_text(BINDERY_START)
    path.chmod(0o755)
    return path


def _run(
    entrypoint: Path, *command: str, start: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if start is not None:
        env["BINDERY_START_SCRIPT"] = str(start)
    return subprocess.run(
        [str(entrypoint), *command], env=env, capture_output=True, text=True, timeout=10
    )


def test_command_runs_directly_without_start(entrypoint) -> None:
    result = _run(entrypoint, "sh", "-c", 'echo "ran:$0:$1"', "a b", "c")
    assert result.returncode == 0 and result.stdout == "ran:a b:c\n"


def test_start_wraps_the_command_and_its_environment_reaches_it(entrypoint, tmp_path) -> None:
    start = tmp_path / "start"
    start.write_text('#!/bin/bash\nexport FROM_START=yes\nexec "$@"\n')
    start.chmod(0o755)
    result = _run(entrypoint, "sh", "-c", 'echo "$FROM_START"', start=start)
    assert result.stdout == "yes\n", result.stderr


def test_start_without_exec_bit_still_runs_with_bash(entrypoint, tmp_path) -> None:
    start = tmp_path / "start"
    start.write_text('export FROM_START=plain\nexec "$@"\n')
    os.chmod(start, 0o644)
    assert _run(entrypoint, "sh", "-c", 'echo "$FROM_START"', start=start).stdout == "plain\n"


def test_exit_status_of_the_command_is_kept(entrypoint) -> None:
    assert _run(entrypoint, "sh", "-c", "exit 7").returncode == 7


def test_start_named_but_missing_runs_command_directly(entrypoint, tmp_path) -> None:
    assert _run(entrypoint, "echo", "ok", start=tmp_path / "absent").stdout == "ok\n"
