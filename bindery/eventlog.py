"""A replayable event log: everything said so far, then live events, to any number of readers.

A build or a server start is watched by whoever asks, possibly late (a second tab, a
reconnecting client). Each reader gets the whole history first and then follows live,
without one slow reader holding up the producer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

E = TypeVar("E")


class EventLog(Generic[E]):
    """Append-only events plus an end marker; ``follow()`` replays then tails."""

    def __init__(self) -> None:
        self.events: list[E] = []
        self.closed = False
        self._changed = asyncio.Event()

    def append(self, event: E) -> None:
        """Record ``event`` and wake every follower."""
        if self.closed:
            raise RuntimeError("this event log is closed")
        self.events.append(event)
        self._wake()

    def close(self) -> None:
        """No more events: followers finish once they have read everything."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self) -> AsyncIterator[E]:
        """Every event from the first, then live ones, until the log is closed."""
        index = 0
        while True:
            changed = self._changed
            while index < len(self.events):
                yield self.events[index]
                index += 1
            if self.closed:
                return
            await changed.wait()
