"""The last read-back labels of each image repository: a guess that saves a build.

Some labels are read back from the built image — ``org.bindery.lock`` (the installed
Python packages), ``org.bindery.apt``, module reports such as R's — and labels can
only be set by a build. Before, every build was followed by a label-only build. Now
the builder gives the build the values read from the last image built for the same
repository (and builder fingerprint), reads the real ones back, and only when they
differ makes the label-only build. A notebook-only rebuild, whose packages did not
change, so needs one build instead of two. The labels are always checked against the
image itself, so a wrong guess costs time, never a wrong label.

The cache is one small file per repository under ``builder.work_dir``, written
atomically; deleting it only costs the next build its second step.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

#: Larger sets of labels are not kept (the next build just makes the label build).
MAX_LOCK_BYTES = 2_000_000


class LockCache:
    """``<dir>/last-<hash of key>.json``: read-back labels of the last image built for ``key``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _file(self, key: str) -> Path:
        return self.directory / f"last-{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def last_labels(self, key: str) -> dict[str, str] | None:
        try:
            found = json.loads(self._file(key).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return None
        if not isinstance(found, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
            return None
        return found

    def remember(self, key: str, labels: dict[str, str]) -> None:
        text = json.dumps(labels, sort_keys=True)
        if len(text.encode()) > MAX_LOCK_BYTES:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, self._file(key))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return  # a cache: failing to write it only costs a later label build
