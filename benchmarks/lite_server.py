"""A tiny user server for soak and chaos runs: HTTP + WebSocket echo, Jupyter's flags.

The hub's local spawner starts it exactly as it starts ``jupyter server``
(``--ServerApp.port=``, ``--ServerApp.base_url=``, ...); only port and base URL matter
here. ``GET <base>api/status`` answers like Jupyter's, ``<base>ws`` echoes messages,
everything else answers a small text. It records its pid in ``$BENCH_LITE_PID_DIR`` so
a run can find (and end) exactly the processes it caused.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import WSMsgType, web


def flag(name: str, default: str) -> str:
    prefix = f"--ServerApp.{name}="
    return next((a.removeprefix(prefix) for a in sys.argv[1:] if a.startswith(prefix)), default)


async def main() -> None:
    port = int(flag("port", "8888"))
    base = flag("base_url", "/")
    started = datetime.now(UTC).isoformat()
    last = [time.time()]

    async def status(request: web.Request) -> web.Response:
        last[0] = time.time()
        return web.json_response({"started": started, "connections": 0, "kernels": 0,
                                  "last_activity": datetime.fromtimestamp(last[0], UTC).isoformat()})

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            last[0] = time.time()
            if message.type is WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws

    async def other(request: web.Request) -> web.Response:
        return web.Response(text=f"lite server at {base}\n")

    app = web.Application()
    app.router.add_get(f"{base}api/status", status)
    app.router.add_get(f"{base}ws", echo)
    app.router.add_route("*", "/{tail:.*}", other)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    pid_dir = os.environ.get("BENCH_LITE_PID_DIR")
    if pid_dir:
        (Path(pid_dir) / str(os.getpid())).touch()
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
