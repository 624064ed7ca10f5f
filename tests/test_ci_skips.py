"""The CI rule on skips (tests/conftest.py): under CI=true a skip fails the run.

Each case runs a small pytest session with the real conftest hooks (``pytester``), so
what is checked is what a CI run does: the exit status and the words in its report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py").read_text()

SKIPPING = """
import pytest

def test_needs_a_component():
    pytest.skip("chromium is not installed")

def test_runs():
    assert True
"""


@pytest.fixture
def session(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_sample=SKIPPING)
    return pytester


def test_a_skip_under_ci_fails_the_run_and_says_why(
        session: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = session.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*Skipped under CI=true: chromium is not installed*"])


def test_a_skip_outside_ci_stays_a_skip(
        session: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = session.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.OK


def test_an_allow_listed_skip_passes_under_ci(
        session: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    session.makefile(".txt", skip_allowlist=(
        "# comment lines are ignored\n"
        "test_sample.py::test_needs_a_component  -- this machine has no display\n"))
    result = session.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.OK


def test_an_allow_list_entry_without_a_reason_is_refused(
        session: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    session.makefile(".txt", skip_allowlist="test_sample.py::test_needs_a_component\n")
    result = session.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*skip_allowlist.txt:1*has no reason*"])


def test_a_module_skipped_at_collection_fails_the_run_under_ci(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gone='import pytest\npytest.importorskip("surely_not_installed_xyz")\n',
                        test_fine="def test_ok():\n    assert True\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*skipped under CI=true*", "*test_gone.py: skipped at collection*"])


def test_expected_failures_are_not_skips(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_x="import pytest\n@pytest.mark.xfail(reason='known')\n"
                               "def test_known():\n    assert False\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(xfailed=1)
    assert result.ret == pytest.ExitCode.OK
