"""Wait until a freshly started Jupyter server answers HTTP (the spawner only says "running")."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import httpx


async def wait_until_answers(
    url: str, token: str, timeout: float, is_alive: Callable[[], Awaitable[bool]] | None = None
) -> None:
    """Poll ``GET url`` with the server token until any non-5xx answer; raise ``TimeoutError``."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:
        while True:
            try:
                answer = await http.get(url, headers={"Authorization": f"token {token}"})
                if answer.status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if is_alive is not None and not await is_alive():
                raise TimeoutError("the server exited before it answered")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not answer within {timeout:.0f} s")
            await anyio.sleep(delay)
            delay = min(delay * 1.5, 1.0)
