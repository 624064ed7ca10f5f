"""Fair use: which specs may launch, how often one address may ask, how many run.

A full deployment should make people *wait* (and tell them where they are in
line), not fail: the launch queue hands out slots first come, first served,
within a per-repository and a total quota, and tells each waiter its position.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from bindery.errors import BinderyError


class SpecRefused(BinderyError):
    """The deployment's ban/allow lists refuse this repository."""


class RateLimited(BinderyError):
    """One client address asked too often."""


class QueueTimeout(BinderyError):
    """No slot came free in time."""


class SpecPolicy:
    """Ban and allow lists of regular expressions matched against ``<provider>/<spec>``."""

    def __init__(self, banned: Iterable[str] = (), allowed: Iterable[str] = ()) -> None:
        self.banned = [re.compile(p) for p in banned]
        self.allowed = [re.compile(p) for p in allowed]

    def check(self, full_spec: str) -> None:
        """Raise :class:`SpecRefused` with a readable reason, or return."""
        if any(p.search(full_spec) for p in self.banned):
            raise SpecRefused(
                f"Launching {full_spec} is not allowed on this deployment "
                "(the repository is on its ban list)."
            )
        if self.allowed and not any(p.search(full_spec) for p in self.allowed):
            raise SpecRefused(
                f"This deployment only launches repositories on its allow list, "
                f"and {full_spec} is not one of them."
            )


class RateLimiter:
    """At most ``limit`` requests per ``period`` seconds per client (sliding window)."""

    def __init__(self, limit: int, period: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.period = period
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, client: str) -> None:
        """Count one request of ``client``; raise :class:`RateLimited` when over the limit."""
        if self.limit <= 0:
            return
        now = self.clock()
        hits = self._hits.setdefault(client, deque())
        while hits and hits[0] <= now - self.period:
            hits.popleft()
        if len(hits) >= self.limit:
            wait = int(hits[0] + self.period - now) + 1
            raise RateLimited(
                f"Too many launches from your address ({self.limit} per "
                f"{self.period:.0f} s). Please try again in {wait} s."
            )
        hits.append(now)
        if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
            for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.period]:
                del self._hits[key]


@dataclass(eq=False)
class _Waiter:
    key: str
    holder: str
    granted: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class LaunchQueue:
    """Slots for running servers, per repository key and in total (0 = unlimited).

    A slot is held by a *holder* (the temporary user's name) from the moment it is
    granted until :meth:`release` (the server stopped) or :meth:`reconcile` notices
    that the hub no longer has that user (culled).
    """

    def __init__(self, per_key: int, total: int) -> None:
        self.per_key = per_key
        self.total = total
        self.running: dict[str, str] = {}  # holder -> key
        self.granted_at: dict[str, float] = {}
        self.waiters: list[_Waiter] = []

    def count(self, key: str | None = None) -> int:
        if key is None:
            return len(self.running)
        return sum(1 for k in self.running.values() if k == key)

    def _fits(self, key: str) -> bool:
        return (self.total <= 0 or self.count() < self.total) and (
            self.per_key <= 0 or self.count(key) < self.per_key)

    def _grant(self) -> None:
        for waiter in list(self.waiters):
            if self._fits(waiter.key):
                self.running[waiter.holder] = waiter.key
                self.granted_at[waiter.holder] = time.monotonic()
                waiter.granted = True
                self.waiters.remove(waiter)
            waiter.wake.set()
        for waiter in self.waiters:
            waiter.wake.set()

    async def acquire(self, key: str, holder: str, timeout: float) -> AsyncIterator[int]:
        """Wait for a slot, yielding the 1-based queue position whenever it changes.

        Returns (ends the iteration) once the slot is held; raises QueueTimeout after
        ``timeout`` seconds. Nothing is yielded when a slot is free at once.
        """
        waiter = _Waiter(key, holder)
        self.waiters.append(waiter)
        self._grant()
        deadline = time.monotonic() + timeout
        last = None
        try:
            while not waiter.granted:
                position = self.waiters.index(waiter) + 1
                if position != last:
                    last = position
                    yield position
                waiter.wake.clear()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise QueueTimeout(
                        "This deployment is full and no place came free in time. "
                        "Please try again later.")
                try:
                    await asyncio.wait_for(waiter.wake.wait(), timeout=min(remaining, 5))
                except TimeoutError:
                    pass
        except BaseException:
            if waiter in self.waiters:
                self.waiters.remove(waiter)
                self._grant()
            raise

    def try_hold(self, key: str, holder: str) -> bool:
        """Take a slot now if one is free and nobody waits; never queue (background work)."""
        if self.waiters or not self._fits(key):
            return False
        self.running[holder] = key
        self.granted_at[holder] = time.monotonic()
        return True

    def settle(self, holder: str) -> None:
        """The holder's server is running: from now on, reconcile may free its place."""
        if holder in self.running:
            self.granted_at[holder] = float("-inf")

    def release(self, holder: str) -> None:
        self.granted_at.pop(holder, None)
        if self.running.pop(holder, None) is not None:
            self._grant()

    def reconcile(self, alive: set[str], grace: float = 120.0) -> None:
        """Drop slots whose holder the hub no longer has (culled, deleted).

        Slots granted less than ``grace`` seconds ago are kept: their user may not
        exist on the hub yet.
        """
        now = time.monotonic()
        gone = [h for h in self.running
                if h not in alive and now - self.granted_at.get(h, 0) > grace]
        for holder in gone:
            del self.running[holder]
            self.granted_at.pop(holder, None)
        if gone:
            self._grant()
