"""Servers started ahead of demand, so a launch of a popular image is a hand-over.

Starting a container and waiting for Jupyter to answer takes seconds; that wait is
most of a cached launch. After a launch of an image, the pool starts ``size`` more
servers of it (for the ``max_images`` most recently launched images). The next
launch takes one — a token and a redirect, well under a second — and the pool
starts a replacement. Pooled servers are ordinary temporary users: they count
against the quotas, and the idle culler removes them when nobody came (the pool
only refills after a launch, so an idle deployment does not keep restarting them).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Coroutine
from contextlib import aclosing
from dataclasses import dataclass

from bindery.binder.fairuse import LaunchQueue
from bindery.binder.hub_client import HubClient, HubError, ServerReady, temporary_user_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PooledServer:
    user: str
    #: Path of the server below the public URL ("user/<name>/").
    url_path: str


class WarmPool:
    def __init__(self, hub: HubClient, queue: LaunchQueue, size: int, max_images: int,
                 start_timeout: float, delay: float = 0.0) -> None:
        self.hub = hub
        self.queue = queue
        self.size = size
        self.max_images = max_images
        self.start_timeout = start_timeout
        #: Seconds to wait before starting a replacement, so it does not compete for CPU
        #: with the JupyterLab that a person has just opened.
        self.delay = delay
        self.ready: OrderedDict[str, deque[PooledServer]] = OrderedDict()
        self._starting: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def take(self, image: str) -> PooledServer | None:
        """A running server of ``image``, or None; servers the culler removed are skipped."""
        servers = self.ready.get(image)
        while servers:
            server = servers.popleft()
            try:
                model = await self.hub.get_user(server.user)
            except HubError:
                model = None
            if model and model.get("server") and not model.get("pending"):
                return server
            await self.discard(server)
        return None

    def refill(self, image: str, key: str) -> None:
        """Start servers of ``image`` in the background until ``size`` are ready or starting."""
        if self.size <= 0:
            return
        self.ready.setdefault(image, deque())
        self.ready.move_to_end(image)
        while len(self.ready) > self.max_images:
            _, old = self.ready.popitem(last=False)
            for server in old:
                self._spawn_task(self.discard(server))
        missing = self.size - len(self.ready[image]) - self._starting.get(image, 0)
        for _ in range(missing):
            user = temporary_user_name()
            if not self.queue.try_hold(key, user):
                return  # quotas are full: launches by people come first
            self._starting[image] = self._starting.get(image, 0) + 1
            self._spawn_task(self._start(image, user))

    def _spawn_task(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self, image: str, user: str) -> None:
        ok = False
        try:
            await asyncio.sleep(self.delay)
            async with aclosing(self.hub.launch(user, image, self.start_timeout)) as steps:
                async for step in steps:
                    # The image may have left the pool while its server started.
                    if isinstance(step, ServerReady) and image in self.ready:
                        ok = True
                        self.queue.settle(user)
                        self.ready[image].append(PooledServer(user, step.url_path))
        except HubError as exc:
            log.info("warm pool: could not start a server of %s: %s", image, exc)
        finally:
            self._starting[image] = max(0, self._starting.get(image, 1) - 1)
            if not ok:
                await self.discard(PooledServer(user, ""))

    async def discard(self, server: PooledServer) -> None:
        """Give back the slot and remove the user (and its server)."""
        self.queue.release(server.user)
        await self.hub.remove_user(server.user)

    async def close(self) -> None:
        """Stop background starts and remove every pooled server.

        The cancelled starts are awaited: each removes its half-started user on the way
        out, which needs the hub client the caller closes right after this.
        """
        starts = list(self._tasks)
        for task in starts:
            task.cancel()
        await asyncio.gather(*starts, return_exceptions=True)
        for servers in self.ready.values():
            for server in servers:
                await self.discard(server)
        self.ready.clear()
