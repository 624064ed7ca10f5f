"""The build memory guard: parsing limits and writing them into new step cgroups."""

from pathlib import Path

import pytest

from bindery.engine import build_limits
from bindery.engine.build_limits import BuildMemoryGuard, parse_memory


@pytest.mark.parametrize("text,expected", [("512m", 512 * 1024**2), ("4g", 4 * 1024**3),
                                           ("1.5G", int(1.5 * 1024**3)), ("100", 100), ("64kb", 65536)])
def test_parse_memory(text: str, expected: int) -> None:
    assert parse_memory(text) == expected


@pytest.mark.parametrize("bad", ["", "lots", "4 t", "-1g"])
def test_parse_memory_rejects_nonsense(bad: str) -> None:
    with pytest.raises(ValueError, match="512m"):
        parse_memory(bad)


def test_guard_limits_each_new_step_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a stand-in cgroup tree (writing the real one needs a running build)."""
    monkeypatch.setattr(build_limits, "CGROUP_V1_DIR", tmp_path)
    guard = BuildMemoryGuard(123456)
    with guard:
        step = tmp_path / "step1"
        step.mkdir()
        guard.sweep()
        assert (step / "memory.limit_in_bytes").read_text() == "123456"
        (step / "memory.limit_in_bytes").write_text("changed")
        guard.sweep()  # already seen: left alone
        assert (step / "memory.limit_in_bytes").read_text() == "changed"
    assert guard.enforced == 1 and guard.problem is None
