"""The last lock built for each image repository: a guess that saves a build.

An image's ``org.bindery.lock`` label is the package list read back from the image,
and labels can only be set by a build. Before, every build was followed by a
label-only build. Now the builder gives the build the lock of the last image built
for the same repository (and builder fingerprint) as its label, reads the real lock
back, and only when they differ makes the label-only build. A notebook-only rebuild,
whose packages did not change, so needs one build instead of two. The label is
always checked against the image itself, so a wrong guess costs time, never a wrong
label.

The cache is one small file per repository under ``builder.work_dir``, written
atomically; deleting it only costs the next build its second step.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

#: Locks larger than this are not kept (the next build just makes the label build).
MAX_LOCK_BYTES = 1_000_000


class LockCache:
    """``<dir>/last-<hash of key>.txt``: the lock of the last image built for ``key``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _file(self, key: str) -> Path:
        return self.directory / f"last-{hashlib.sha256(key.encode()).hexdigest()[:32]}.txt"

    def last_lock(self, key: str) -> str | None:
        try:
            return self._file(key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def remember(self, key: str, lock: str) -> None:
        if len(lock.encode()) > MAX_LOCK_BYTES:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(lock)
                os.replace(tmp, self._file(key))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            return  # a cache: failing to write it only costs a later label build
