"""The soak and chaos scripts run and print their figures (tiny sizes; the real runs are by hand).

They are benchmarks, not tests: here only "does the script still work end to end on a
real hub" is checked, in a few seconds each, so they do not rot between manual runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(*args: str) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=240,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_soak_runs_and_prints_rss_and_errors() -> None:
    out = _run(str(BENCHMARKS / "soak.py"), "--servers", "2", "--minutes", "0.1",
               "--sample", "2", "--rps", "20", "--http-clients", "2")
    assert "started 2/2 servers" in out
    assert "hub RSS:" in out and "proxy RSS:" in out and "MB/hour" in out
    assert "errors: " in out and "WebSocket round trips" in out, out


def test_chaos_runs_and_reports_lost_servers_and_errors() -> None:
    out = _run(str(BENCHMARKS / "chaos.py"), "--iterations", "1", "--launches", "1",
               "--victims", "server", "--recover-timeout", "20", "--max-delay", "0.2")
    assert "round  1: kill -9 server" in out
    assert "lost servers:" in out and "user-visible errors:" in out
