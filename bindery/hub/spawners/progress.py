"""A replayable stream of progress events shared by ``start`` and ``progress``.

The hub runs ``start()`` and iterates ``progress()`` concurrently (or iterates
after start already finished, e.g. for a late-joining event stream). Both cases
see every event once, in order, and the iteration ends when start ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio

from bindery.hub.spawners.base import ProgressEvent


class ProgressLog:
    """Append-only event log with waiters; one per spawn."""

    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []
        self.finished = False
        self._changed = anyio.Event()

    def emit(self, progress: int, message: str) -> None:
        """Record one step (``progress`` 0..100) and wake followers."""
        self.events.append(ProgressEvent(max(0, min(100, progress)), message))
        self._wake()

    def finish(self) -> None:
        """Mark the spawn as over (success or failure): followers stop."""
        self.finished = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    async def follow(self) -> AsyncIterator[ProgressEvent]:
        """Yield past and future events until :meth:`finish` is called."""
        seen = 0
        while True:
            while seen < len(self.events):
                yield self.events[seen]
                seen += 1
            if self.finished:
                return
            await self._changed.wait()
