"""Shared pieces of the contract suites: the example plugin check and a guard against I/O.

Every suite is parametrised over the names its registry finds at collection time
(``SOURCES.names()``, ...), so a plugin installed into the environment (the example
distribution under ``example_plugin/``, or any other) is checked like a built-in.
"""

from __future__ import annotations

import builtins
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, distribution
from typing import Any, NoReturn

import pytest

#: The test distribution's name (tests/contracts/example_plugin/pyproject.toml).
EXAMPLE_DISTRIBUTION = "bindery-example-plugin"
SETUP_HINT = (
    "The example plugin distribution (tests/contracts/example_plugin) is not installed in "
    "this environment, so the third-party plugin path is untested. Install it with "
    "`bash scripts/setup.sh --dev` (or `.venv/bin/uv pip install --python .venv/bin/python "
    "-e tests/contracts/example_plugin`)."
)


def example_plugin_installed() -> bool:
    try:
        distribution(EXAMPLE_DISTRIBUTION)
    except PackageNotFoundError:
        return False
    return True


def require_example_plugin() -> None:
    """Fail (never skip) when the example distribution is missing."""
    if not example_plugin_installed():
        pytest.fail(SETUP_HINT, pytrace=False)


class IOAttempted(AssertionError):
    """Code that promised to do no I/O tried to."""


@contextmanager
def no_io(files: bool = False) -> Iterator[None]:
    """Within the block, touching the network or starting a process fails (and, with
    ``files``, opening or listing files).

    Used around calls the contracts declare pure (``accepts``, refusing malformed specs,
    parsing links): a refusal must be explainable before anything is contacted. Files
    are opt-in because a first call may still import modules lazily.
    """

    def refuse(what: str) -> Any:
        def _refused(*args: Any, **kwargs: Any) -> NoReturn:
            raise IOAttempted(f"{what} was called with {args[:2]!r}")

        return _refused

    patches: list[tuple[Any, str, Any]] = [
        (socket.socket, "connect", refuse("socket.connect")),
        (socket, "create_connection", refuse("socket.create_connection")),
        (socket, "getaddrinfo", refuse("socket.getaddrinfo")),
        (subprocess, "Popen", refuse("subprocess.Popen")),
    ]
    if files:
        patches += [
            (builtins, "open", refuse("open")),
            (os, "stat", refuse("os.stat")),
            (os, "scandir", refuse("os.scandir")),
            (os, "listdir", refuse("os.listdir")),
        ]
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in patches]
    try:
        for owner, attr, replacement in patches:
            setattr(owner, attr, replacement)
        yield
    finally:
        for owner, attr, original in saved:
            setattr(owner, attr, original)
