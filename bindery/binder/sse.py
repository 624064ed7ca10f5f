"""Server-Sent Events framing, as BinderHub's ``/build`` stream writes it.

Each event is one ``data: {json}`` line and a blank line; keep-alive comment
lines stop proxies and browsers from closing a quiet stream during a long build.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from bindery.binder.events import LaunchEvent

KEEPALIVE = b":keepalive\n\n"


def frame(event: LaunchEvent) -> bytes:
    """One event as SSE bytes."""
    return f"data: {json.dumps(event)}\n\n".encode()


async def with_keepalive(
    events: AsyncIterator[LaunchEvent], interval: float, linger: float = 0.0
) -> AsyncIterator[bytes]:
    """Frame ``events``; emit a keep-alive comment whenever none came for ``interval`` s.

    After the last event the stream stays open for ``linger`` seconds (still with
    keep-alives), so that the client, not the server, closes it.
    """
    async for chunk in _framed(events, interval):
        yield chunk
    loop = asyncio.get_running_loop()
    deadline = loop.time() + linger
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(interval, left))
        if deadline - loop.time() > 0:
            yield KEEPALIVE


async def _framed(events: AsyncIterator[LaunchEvent], interval: float) -> AsyncIterator[bytes]:
    iterator = events.__aiter__()
    pending: asyncio.Future[LaunchEvent] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield KEEPALIVE
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                pending = None
                break
            pending = None
            yield frame(event)
    finally:
        if pending is not None:
            pending.cancel()
