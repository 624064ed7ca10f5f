"""Launch events: one JSON line per launch, the raw material of public usage statistics.

mybinder.org publishes such a log; the format here keeps its spirit (timestamp,
provider, spec, resolved ref, status) plus the durations people ask about.
Appending a line is atomic enough for one process, so no database is needed.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path


class LaunchLog:
    """Appends launch records to ``path`` (or nowhere when ``path`` is empty)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, *, provider: str, spec: str, ref: str | None, status: str,
               build_seconds: float | None = None, launch_seconds: float | None = None,
               total_seconds: float | None = None, **extra: object) -> dict[str, object]:
        """Write one line; return the record (handy for tests and logging)."""
        entry: dict[str, object] = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "schema": "binder.launch",
            "version": 1,
            "provider": provider,
            "spec": spec,
            "ref": ref,
            "status": status,
            "build_seconds": _round(build_seconds),
            "launch_seconds": _round(launch_seconds),
            "total_seconds": _round(total_seconds),
            **extra,
        }
        if self.path is not None:
            line = json.dumps(entry, sort_keys=True) + "\n"
            with self._lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
        return entry


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
