"""Start-up and shutdown shared by ``bindery serve`` and ``bindery hub``.

- **Signals.** The first SIGINT or SIGTERM asks for a graceful stop: web servers
  finish, the hub stops the servers it should (``[hub] cleanup_servers``), the proxy
  goes. A second signal, or a graceful stop taking longer than ``grace`` seconds,
  exits at once (code 130 / 143), saying what may be left running: the next start
  on the same data directory finds it again.
- **Web apps** run inside our own event loop (:class:`EmbeddedServer`), so the
  command, not each uvicorn server, decides what a signal means.
- **One instance per data directory** (:class:`~bindery.state_dir.InstanceLock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

import click
import uvicorn


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside our own loop: the command, not each server, owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_app(app: Any, host: str, port: int,
                    log_level: str = "warning") -> tuple[EmbeddedServer, asyncio.Task[None]]:
    """Start ``app`` on ``host:port`` and return once it accepts connections.

    ``log_config=None``: uvicorn's records go through the root logger, so the
    chosen log format (plain or JSON) applies to them too.
    """
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                            timeout_graceful_shutdown=5, log_config=None, access_log=False)
    server = EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"the server on port {port} stopped at start")
        await asyncio.sleep(0.02)
    return server, task


async def stop_app(server: EmbeddedServer, task: asyncio.Task[None], timeout: float) -> None:
    """Ask the server to finish (its lifespan shutdown runs) and wait up to ``timeout`` s."""
    server.should_exit = True
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(task, timeout)


class Signals:
    """The first SIGINT/SIGTERM sets :attr:`stop`; a second one (or a stop that overruns
    ``grace``) exits the process at once."""

    def __init__(self, stopping_message: str, left_behind: str, grace: float = 90.0) -> None:
        self.stop = asyncio.Event()
        self.stopping_message = stopping_message
        self.left_behind = left_behind
        self.grace = grace
        self._loop = asyncio.get_running_loop()

    def install(self) -> Signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._loop.add_signal_handler(sig, self._received, sig)
        return self

    def _received(self, sig: signal.Signals) -> None:
        if self.stop.is_set():
            self.force(sig, "a second signal")
            return
        click.echo(self.stopping_message + " (a second Ctrl-C exits at once)", err=True)
        self.stop.set()
        self._loop.call_later(self.grace, self.force, sig, f"stopping took over {self.grace:g} s")

    def force(self, sig: signal.Signals, why: str) -> None:
        """Exit now: 128 + the signal's number, as a shell reports a process killed by it."""
        click.echo(f"Exiting at once ({why}); {self.left_behind}", err=True)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(128 + int(sig))
