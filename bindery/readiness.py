"""The one readiness probe: has a freshly started Jupyter server begun to answer?

A running process or container is not yet a usable server: Jupyter needs a second
or two to import and bind. Whoever starts a server (the hub, ``bindery run``)
waits here before routing or showing a URL, so nobody lands on a "bad gateway".
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import httpx

#: Answers that mean "up, but this will never work" rather than "not up yet".
_REJECTED = (401, 403)


class NotReady(TimeoutError):
    """The server did not answer in time, or stopped first; the text says which."""


def status_url(server_url: str, base_url: str = "/") -> str:
    """``<server_url><base_url>api/status``: the request that proves readiness."""
    prefix = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
    return server_url.rstrip("/") + prefix + "api/status"


async def wait_until_ready(
    url: str,
    token: str,
    timeout: float,
    is_alive: Callable[[], Awaitable[bool]] | None = None,
) -> float:
    """Poll ``GET url`` with the server token until it answers 200; return the seconds waited.

    ``is_alive`` lets the wait end at once when the server died, instead of
    waiting out ``timeout``. A 401/403 ends it too: the server was started with
    another token and will never accept this one.
    """
    started = time.monotonic()
    deadline = started + timeout
    delay = 0.05
    last_problem = "no answer yet"
    headers = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:
        while True:
            try:
                answer = await http.get(url, headers=headers)
            except httpx.HTTPError as err:
                last_problem = f"connection failed ({type(err).__name__})"
            else:
                if answer.status_code == 200:
                    return time.monotonic() - started
                if answer.status_code in _REJECTED:
                    raise NotReady(f"the server rejected its token (HTTP {answer.status_code})")
                last_problem = f"HTTP {answer.status_code}"
            if is_alive is not None and not await is_alive():
                raise NotReady("the server exited before it answered")
            now = time.monotonic()
            if now >= deadline:
                raise NotReady(f"the server did not answer within {timeout:g} s ({last_problem})")
            await anyio.sleep(min(delay, max(0.0, deadline - now)))
            delay = min(delay * 1.5, 1.0)
