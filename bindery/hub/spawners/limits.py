"""Capacity limits: how many servers may start at once, and run at once.

Starting a container is the most expensive thing the hub does; a burst of
launches (a class of 60 clicking one link) must queue at the client, not
overload the machine. When a limit is reached the hub gets
:class:`TooManyServers` and answers ``429 Too Many Requests`` with
``Retry-After``, which browsers and the binder client honour.

Checks and bookkeeping are synchronous (no ``await`` between check and
update), so they are race-free on one event loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from bindery.hub.spawners.errors import TooManyServers
from bindery.hub.spawners.settings import SpawnerSettings


class SpawnLimiter:
    """Counts pending spawns and active servers, keyed by ``"user/server"``."""

    def __init__(
        self,
        max_concurrent_spawns: int = 4,
        max_active_servers: int = 0,
        retry_after: int = 10,
    ) -> None:
        #: Spawns in progress at the same time (at least 1).
        self.max_concurrent_spawns = max(1, max_concurrent_spawns)
        #: Running servers (pending ones included); 0 = no limit.
        self.max_active_servers = max(0, max_active_servers)
        self.retry_after = retry_after
        self._pending: set[str] = set()
        self._active: set[str] = set()

    @classmethod
    def from_settings(cls, settings: SpawnerSettings) -> SpawnLimiter:
        return cls(settings.max_concurrent_spawns, settings.max_active_servers, settings.retry_after)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    @property
    def active_count(self) -> int:
        return len(self._active)

    def check(self, key: str) -> None:
        """Raise :class:`TooManyServers` if ``key`` may not start a server now."""
        if key in self._active or key in self._pending:
            return  # already counted: restarting or a duplicate request is not new load
        if len(self._pending) >= self.max_concurrent_spawns:
            raise TooManyServers(
                f"{len(self._pending)} servers are starting right now, the most this hub "
                f"allows at once. Please try again in {self.retry_after} seconds.",
                self.retry_after,
            )
        if self.max_active_servers and len(self._active) + len(self._pending) >= self.max_active_servers:
            raise TooManyServers(
                f"This hub is full: {self.max_active_servers} servers are running, the most "
                f"it allows. Please try again in {self.retry_after} seconds, or later.",
                self.retry_after,
            )

    @contextmanager
    def spawning(self, key: str) -> Iterator[None]:
        """Hold a spawn slot while the body starts the server.

        On normal exit the server counts as active until :meth:`stopped`; if the
        body raises (start failed), the slot is simply released.
        """
        self.check(key)
        if key in self._pending:
            raise TooManyServers(
                "This server is already starting; wait for it to finish.", self.retry_after
            )
        self._pending.add(key)
        try:
            yield
        except BaseException:
            self._pending.discard(key)
            raise
        self._pending.discard(key)
        self._active.add(key)

    def stopped(self, key: str) -> None:
        """The server ``key`` is gone (stopped, culled or found dead)."""
        self._active.discard(key)

    def set_active(self, keys: Iterable[str]) -> None:
        """Replace the active set, e.g. with the servers found after a hub restart."""
        self._active = set(keys)
