"""Enforce a memory limit on BuildKit build steps.

Docker's BuildKit ignores ``docker build --memory`` and ``--cgroup-parent``: each
``RUN`` step gets a fresh cgroup under ``docker/buildkit/<id>`` with no limit, so
one runaway ``pip install`` could take the machine down. While a build runs,
this guard watches that directory and writes the limit into each new step's
cgroup as it appears (cgroup v1 ``memory.limit_in_bytes`` or v2 ``memory.max``),
so the kernel OOM-kills the step instead. Steps of every concurrent build get
the same limit, which is what a deployment-wide setting means anyway.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

CGROUP_V1_DIR = Path("/sys/fs/cgroup/memory/docker/buildkit")
CGROUP_V2_DIR = Path("/sys/fs/cgroup/docker/buildkit")
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_memory(value: str) -> int:
    """``"4g"`` → bytes. Raises ValueError with the accepted syntax."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmg]?)b?\s*", value.lower())
    if not match:
        raise ValueError(f"memory limit {value!r} is not like '512m' or '4g'")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


class BuildMemoryGuard:
    """Context manager: while open, cap every BuildKit step cgroup at ``limit_bytes``."""

    def __init__(self, limit_bytes: int, interval: float = 0.02) -> None:
        self.limit_bytes = limit_bytes
        self.interval = interval
        self.enforced = 0
        self.problem: str | None = None
        self._seen: set[str] = set()
        # sweep() runs in the watcher thread and may be called directly too.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="build-memory-guard", daemon=True)

    def __enter__(self) -> BuildMemoryGuard:
        if CGROUP_V1_DIR.is_dir():
            self._dir, self._file = CGROUP_V1_DIR, "memory.limit_in_bytes"
        elif CGROUP_V2_DIR.is_dir():
            self._dir, self._file = CGROUP_V2_DIR, "memory.max"
        else:
            # The directory appears with the first step; assume v1 layout when
            # the memory controller is mounted separately.
            v1 = Path("/sys/fs/cgroup/memory").is_dir()
            self._dir = CGROUP_V1_DIR if v1 else CGROUP_V2_DIR
            self._file = "memory.limit_in_bytes" if v1 else "memory.max"
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.sweep()
            self._stop.wait(self.interval)

    def sweep(self) -> None:
        """Apply the limit to step cgroups not seen before (public for tests)."""
        with self._lock:
            self._sweep()

    def _sweep(self) -> None:
        try:
            entries = list(self._dir.iterdir())
        except OSError:
            return
        for entry in entries:
            if entry.name in self._seen or not entry.is_dir():
                continue
            self._seen.add(entry.name)
            try:
                (entry / self._file).write_text(str(self.limit_bytes))
                self.enforced += 1
            except OSError as exc:
                self.problem = f"could not limit build memory ({exc.strerror})"
