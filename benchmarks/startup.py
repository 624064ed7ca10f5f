"""How long a command takes before it does any work: reading and checking every setting.

Every ``bindery`` command loads the whole settings tree and checks each chosen
plugin's options, which imports those plugins. This measures ``bindery build`` on a
path that does not exist (it stops right after the settings are read and the spec is
refused), against the bare interpreter start measured in the same run, and counts
the modules ``import bindery.environment`` adds (the pure layer: stdlib only).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _median_seconds(command: list[str], runs: int, cwd: str) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, cwd=cwd, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as empty:  # no bindery.toml around
        bare = _median_seconds([sys.executable, "-c", "pass"], args.runs, empty)
        build = _median_seconds([str(BIN / "bindery"), "build", "/no/such/repository"],
                                args.runs, empty)
    added = subprocess.run(
        [sys.executable, "-c", "import sys; n = len(sys.modules); import bindery.environment; "
                               "print(len(sys.modules) - n)"],
        capture_output=True, text=True, check=True).stdout.strip()
    print(f"interpreter start (baseline)        {bare:6.2f} s")
    print(f"bindery build, settings + refusal   {build:6.2f} s   ratio {build / bare:5.1f}x")
    print(f"modules added by import bindery.environment: {added}")


if __name__ == "__main__":
    main()
