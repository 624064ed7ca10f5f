"""A replayable event log: everything said so far, then live events, to any number of readers.

A build or a server start is watched by whoever asks, possibly late (a second tab, a
reconnecting client). Each reader gets the whole history first and then follows live,
without one slow reader holding up the producer. Producers may write from worker
threads (a spawner's blocking engine calls): readers are then woken on their own loop.
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
        #: The loop readers wait on, known once one follows.
        self._loop: asyncio.AbstractEventLoop | None = None

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
        loop = self._loop
        if loop is not None and not _runs_in(loop):
            loop.call_soon_threadsafe(self._wake)
            return
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self) -> AsyncIterator[E]:
        """Every event from the first, then live ones, until the log is closed."""
        self._loop = asyncio.get_running_loop()
        index = 0
        while True:
            changed = self._changed
            while index < len(self.events):
                yield self.events[index]
                index += 1
            if self.closed:
                return
            await changed.wait()


def _runs_in(loop: asyncio.AbstractEventLoop) -> bool:
    """True when called from the thread that runs ``loop``."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
