"""One running instance per state directory: a lock file that names its holder.

Each long-running command (``bindery serve``, ``bindery hub``) keeps its state — the
hub database, the cookie secret, the launch log, the proxy record — in one data
directory. Two instances sharing it would adopt each other's servers and routes,
so the first takes an exclusive ``flock`` on ``<data dir>/bindery.lock`` and writes
who it is into that file; a second one is refused with the directory and that pid.

The kernel drops a ``flock`` when its holder dies, even by ``kill -9``: a crashed
instance never leaves a stale lock behind, and no pid needs to be checked by hand.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bindery.errors import BinderyError

LOCK_NAME = "bindery.lock"


class InstanceRunning(BinderyError):
    """Another instance holds the data directory; the message says which and what to do."""


@dataclass(frozen=True)
class InstanceInfo:
    """What a running instance writes into its lock file (read by ``bindery status``)."""

    pid: int
    command: str
    started: str
    #: Addresses worth showing a person: {"public": "http://127.0.0.1:8585/", ...}.
    urls: dict[str, str]

    @classmethod
    def from_json(cls, text: str) -> InstanceInfo | None:
        try:
            raw = json.loads(text)
            return cls(int(raw["pid"]), str(raw["command"]), str(raw["started"]),
                       {str(k): str(v) for k, v in dict(raw.get("urls") or {}).items()})
        except (ValueError, KeyError, TypeError):
            return None


def lock_path(data_dir: Path) -> Path:
    return data_dir / LOCK_NAME


class InstanceLock:
    """Held from :meth:`acquire` until :meth:`release` or the process ends.

    ``command`` and ``urls`` are written into the file for the refusal message of a
    second instance and for ``bindery status``.
    """

    def __init__(self, data_dir: Path, command: str) -> None:
        self.data_dir = data_dir
        self.command = command
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return lock_path(self.data_dir)

    def acquire(self, urls: dict[str, str] | None = None) -> None:
        """Take the lock or raise :class:`InstanceRunning` naming the directory and the holder."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # O_CLOEXEC: the proxy and servers this process starts must not inherit the lock.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = InstanceInfo.from_json(os.pread(fd, 65536, 0).decode("utf-8", "replace"))
            os.close(fd)
            who = (f"pid {holder.pid} (`{holder.command}`, started {holder.started})"
                   if holder else "another process")
            raise InstanceRunning(
                f"The data directory {self.data_dir} is in use by {who}. Stop that instance, "
                "or give this one its own directory with --data-dir or $BINDERY_DATA_DIR."
            ) from None
        self._fd = fd
        self.update(urls or {})

    def update(self, urls: dict[str, str]) -> None:
        """Record this instance's addresses (once they are known)."""
        if self._fd is None:
            return
        info: dict[str, Any] = {
            "pid": os.getpid(), "command": self.command,
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "urls": urls,
        }
        data = json.dumps(info).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(data_dir: Path) -> InstanceInfo | None:
    """The instance running on ``data_dir`` now, or ``None`` (its lock is free or absent)."""
    path = lock_path(data_dir)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return InstanceInfo.from_json(os.pread(fd, 65536, 0).decode("utf-8", "replace"))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
