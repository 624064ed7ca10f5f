"""Waiting until a freshly started Jupyter server really answers.

A running process or container is not yet a usable server: Jupyter needs a
second or two to import and bind. The hub calls :func:`wait_for_http` after
``Spawner.start`` and only then adds the proxy route and redirects the user, so
nobody lands on a "bad gateway" page.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import httpx

from bindery.hub.spawners.errors import SpawnerError, SpawnTimeout

#: Answers that mean "up, but this will never work" rather than "not up yet".
_FATAL_STATUSES = {401: "rejected the server token", 403: "rejected the server token"}


def status_url(server_url: str, base_url: str = "/") -> str:
    """``GET`` target proving readiness: ``<server_url><base_url>api/status``.

    ``server_url`` is what ``Spawner.start`` returned (``http://127.0.0.1:PORT``).
    """
    prefix = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
    return server_url.rstrip("/") + prefix + "api/status"


def _probe_url(url: str) -> str:
    """Accept either the full status URL or a server URL that already has the base_url."""
    if url.rstrip("/").endswith("/api/status"):
        return url.rstrip("/")
    return url.rstrip("/") + "/api/status"


async def wait_for_http(
    url: str,
    token: str,
    timeout: float,
    *,
    poll: Callable[[], Awaitable[int | None]] | None = None,
) -> float:
    """Return the seconds waited once ``url`` answers 200 with ``token``.

    ``url`` is the server URL including its base_url (``http://127.0.0.1:PORT/user/a/``)
    or the full ``.../api/status`` URL (see :func:`status_url`). Connection errors
    and 5xx/404 answers are retried with a short backoff until ``timeout``.
    ``poll`` (usually ``spawner.poll``) lets the wait end at once when the server
    process died instead of waiting out the timeout. Raises :class:`SpawnTimeout`
    or :class:`SpawnerError` with a message a user can act on.
    """
    target = _probe_url(url)
    started = time.monotonic()
    deadline = started + timeout
    delay = 0.05
    last_problem = "no answer yet"
    headers = {"Authorization": f"token {token}"}
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0), trust_env=False) as client:
        while True:
            try:
                response = await client.get(target, headers=headers)
            except httpx.HTTPError as err:
                last_problem = f"connection failed ({type(err).__name__})"
            else:
                if response.status_code == 200:
                    return time.monotonic() - started
                if response.status_code in _FATAL_STATUSES:
                    raise SpawnerError(
                        f"The server at {target} {_FATAL_STATUSES[response.status_code]} "
                        f"(HTTP {response.status_code}); it was started with a different token."
                    )
                last_problem = f"HTTP {response.status_code}"
            if poll is not None:
                status = await poll()
                if status is not None:
                    raise SpawnerError(
                        f"The server stopped (exit status {status}) before it answered; "
                        "see the server log for the reason."
                    )
            now = time.monotonic()
            if now >= deadline:
                raise SpawnTimeout(
                    f"The server did not answer within {timeout:g} s ({last_problem}). "
                    "It may be overloaded or broken; try again, or check its log."
                )
            await anyio.sleep(min(delay, max(0.0, deadline - now)))
            delay = min(delay * 2, 0.5)
