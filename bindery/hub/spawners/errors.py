"""Errors of spawners, written for the person who clicked "start"."""

from __future__ import annotations

from bindery.errors import BinderyError


class SpawnerError(BinderyError):
    """A server could not be started, found or stopped; the message says why."""


class SpawnTimeout(SpawnerError):
    """The server did not become ready within the configured time."""


class ImageNotAllowed(SpawnerError):
    """The requested image is not in ``allowed_images``."""


class TooManyServers(SpawnerError):
    """Capacity is used up; the hub answers HTTP 429 with ``Retry-After: retry_after``."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
