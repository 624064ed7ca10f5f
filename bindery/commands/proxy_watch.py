"""Start the proxy again when it dies under a running hub.

Users reach their servers only through the proxy, so a proxy killed by the OOM killer or
by mistake would lock everyone out until someone restarted the hub. JupyterHub checks the
proxy it started every few seconds and starts it again; Bindery does the same: same ports,
same token (so the hub's client keeps working), then the routes of every running server
are added back at once instead of at the next activity poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from bindery.hub.proxy.base import ProxyError

log = logging.getLogger("bindery.proxy.watch")


class WatchedProxy(Protocol):
    """What the watcher needs of a proxy process (``hub.proxy.processes``)."""

    name: str

    @property
    def pid(self) -> int | None: ...

    def alive(self) -> bool: ...

    def start_or_adopt(self, record_path: Path, *, token_given: bool) -> str: ...


async def keep_proxy_alive(
    process: WatchedProxy,
    record_path: Path,
    interval: float,
    stop: asyncio.Event,
    restore_routes: Callable[[], Awaitable[int]],
) -> None:
    """Until ``stop`` is set: every ``interval`` s, start a dead proxy again and restore routes."""
    if interval <= 0:
        return
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set() or process.alive():
            continue
        log.warning("the %s (pid %s) is not running; starting it again", process.name, process.pid)
        began = time.monotonic()
        try:
            await asyncio.to_thread(process.start_or_adopt, record_path, token_given=True)
        except ProxyError as err:
            log.error("could not start the %s again (trying again in %.0f s): %s",
                      process.name, interval, err)
            continue
        try:
            restored = await restore_routes()
        except Exception:  # the next activity poll restores them too
            log.exception("restoring routes after the proxy restart failed")
            restored = -1
        log.warning("the %s runs again (pid %s) after %.1f s; %d route(s) restored",
                    process.name, process.pid, time.monotonic() - began, restored)
