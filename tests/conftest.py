"""Shared test configuration. Area-specific fixtures live in tests/<area>/conftest.py.

It also holds the one rule about skips: under ``CI=true`` a skipped test fails the run,
because a skip of a real component (no Chromium, no configurable-http-proxy, no nginx)
means the run proved less than it says. ``scripts/setup.sh --dev`` installs every real
component the suite uses; what a machine genuinely cannot have goes in
``tests/skip_allowlist.txt``, one node id (or ``fnmatch`` pattern) per line, each with a
reason after ``--``.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Generator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

#: Node ids (or patterns) allowed to skip under CI, each with its reason.
SKIP_ALLOWLIST = Path(__file__).with_name("skip_allowlist.txt")
#: Modules skipped at collection under CI (not allow-listed), reported at the end.
_COLLECTION_SKIPS: list[str] = []


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio, like the product."""
    return "asyncio"


def _in_ci() -> bool:
    """``CI`` as CI services set it (``true``/``1``/``yes``, any case)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def read_allowlist(path: Path) -> dict[str, str]:
    """``{pattern: reason}``; an entry without a reason is refused (say why or remove it)."""
    allowed: dict[str, str] = {}
    if not path.exists():
        return allowed
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        pattern, _, reason = text.partition("--")
        if not reason.strip():
            raise pytest.UsageError(
                f"{path}:{number}: the allow-listed skip {pattern.strip()!r} has no reason; "
                "write '<node id>  -- <why this machine cannot run it>'."
            )
        allowed[pattern.strip()] = reason.strip()
    return allowed


def _allowed(nodeid: str, allowlist: dict[str, str]) -> bool:
    return any(nodeid == p or fnmatch.fnmatchcase(nodeid, p) for p in allowlist)


def pytest_configure(config: pytest.Config) -> None:
    read_allowlist(SKIP_ALLOWLIST)  # a malformed allow-list fails at once, not at the first skip
    _COLLECTION_SKIPS.clear()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None]:
    """Under CI, a skip that is not allow-listed becomes a failure naming the missing piece."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and _in_ci()) or hasattr(report, "wasxfail"):
        return
    if _allowed(item.nodeid, read_allowlist(SKIP_ALLOWLIST)):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = (
        f"Skipped under CI=true: {reason}\n"
        "A skip means a real component is missing: install it in scripts/setup.sh --dev, "
        f"or add this test to {SKIP_ALLOWLIST.name} with the reason this machine cannot have it."
    )


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """Whole modules skipped at collection (``importorskip``) are counted for the session end."""
    if report.skipped and _in_ci() and not _allowed(report.nodeid, read_allowlist(SKIP_ALLOWLIST)):
        _COLLECTION_SKIPS.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _COLLECTION_SKIPS and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _COLLECTION_SKIPS:
        terminalreporter.section("skipped under CI=true (the run fails)", red=True)
        for nodeid in _COLLECTION_SKIPS:
            terminalreporter.line(f"{nodeid}: skipped at collection; install what it needs "
                                  f"or allow-list it in {SKIP_ALLOWLIST.name} with a reason")
