"""A command whose module cannot be imported explains why instead of crashing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bindery import cli


def test_unavailable_command_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.LAZY_COMMANDS, "ghost", ("bindery.no_such_module", "command", "A ghost."))
    result = CliRunner().invoke(cli.main, ["ghost"])
    assert result.exit_code == 1
    assert "'bindery ghost' is not available" in result.output
    assert "no_such_module" in result.output
