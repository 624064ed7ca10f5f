"""Talks to the hub through its JupyterHub-compatible REST API, as BinderHub does.

Only documented endpoints are used (users, server, progress, tokens), with an
admin/service token, so the binder can drive Bindery's hub or a real JupyterHub.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Required, TypedDict, cast
from urllib.parse import quote

import anyio
import httpx

from bindery.errors import BinderyError
from bindery.request_id import outgoing_headers

log = logging.getLogger(__name__)


#: Names of the users the binder creates for one launch (and removes again).
TEMPORARY_PREFIX = "tmp-"


def temporary_user_name() -> str:
    """A fresh name for a launch's temporary user."""
    return f"{TEMPORARY_PREFIX}{secrets.token_hex(6)}"


class HubError(BinderyError):
    """The hub refused or failed a request; the message says what happened."""


class HubBusy(HubError):
    """The hub is at its limit of concurrent spawns (429); try again after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HubUser(TypedDict, total=False):
    """The parts of the hub's user model the binder reads (JupyterHub's field names)."""

    name: Required[str]
    #: URL of the default server when it runs, else None.
    server: str | None
    #: Named servers (the default one is ``""``).
    servers: dict[str, object]
    #: ``"spawn"``/``"stop"`` while the server starts or stops, else None.
    pending: str | None


class HubProgress(TypedDict, total=False):
    """One event of the hub's spawn progress stream (JupyterHub's field names)."""

    progress: int
    message: str
    ready: bool
    failed: bool
    url: str


@dataclass(frozen=True)
class RetryNote:
    """The hub is busy: the start is asked for again after a pause (``message`` says when)."""

    message: str


@dataclass(frozen=True)
class ProgressNote:
    """A message of the hub's progress stream, with its percentage when it gave one."""

    message: str
    progress: int | None


@dataclass(frozen=True)
class ServerReady:
    """The server answers; ``url_path`` is its path below the public URL (``user/<name>/``),
    or its whole URL when each server has its own subdomain."""

    url_path: str


async def pass_request_id(request: httpx.Request) -> None:
    """The launch's request id goes on to the hub (and from there to the proxy)."""
    request.headers.update(outgoing_headers())


class HubClient:
    """The hub's REST API, one method per endpoint, plus :meth:`launch` (the protocol)."""

    def __init__(self, hub_url: str, token: str, timeout: float = 30.0) -> None:
        #: ``http://127.0.0.1:8081/hub/`` (the hub's own base URL, ending in ``/hub/``).
        self.api = hub_url.rstrip("/") + "/api"
        self.http = httpx.AsyncClient(
            headers={"Authorization": f"token {token}"}, timeout=timeout, trust_env=False,
            # An idle connection is dropped well before the hub's server would close it
            # (uvicorn: 5 s by default); reusing one the server is closing at that moment
            # fails with ReadError, seen as 1 failed launch in 100 under load.
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50,
                                keepalive_expiry=2.0),
            event_hooks={"request": [pass_request_id]},
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    def _url(self, path: str) -> str:
        return f"{self.api}/{path.lstrip('/')}"

    async def _request(self, method: str, path: str, body: object = None) -> httpx.Response:
        """``method path`` with ``body`` as JSON; HubBusy on 429, HubError on any failure."""
        try:
            response = await self.http.request(method, self._url(path), json=body)
        except httpx.HTTPError as exc:
            raise HubError(f"The hub could not be reached ({exc.__class__.__name__}).") from exc
        if response.status_code == 429:
            try:
                retry_after = float(response.headers.get("Retry-After", "2"))
            except ValueError:
                retry_after = 2.0
            raise HubBusy(f"The hub is busy: {_message(response)}", retry_after)
        if response.status_code >= 400:
            raise HubError(f"The hub answered {response.status_code} to {method} {path}: "
                           f"{_message(response)}")
        return response

    async def info(self) -> dict[str, object]:
        return cast(dict[str, object], (await self._request("GET", "/")).json())

    async def list_users(self) -> list[HubUser]:
        return cast(list[HubUser], (await self._request("GET", "/users")).json())

    async def get_user(self, name: str) -> HubUser | None:
        """The user's model, or None when the hub has no such user."""
        try:
            response = await self.http.get(self._url(f"/users/{quote(name)}"))
        except httpx.HTTPError as exc:
            raise HubError(f"The hub could not be reached ({exc.__class__.__name__}).") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise HubError(f"The hub answered {response.status_code}: {_message(response)}")
        return cast(HubUser, response.json())

    async def create_user(self, name: str) -> None:
        """Create a user; ``kind: temporary`` lets a hub that knows the kind cull it itself."""
        await self._request("POST", f"/users/{quote(name)}",
                            body={"admin": False, "kind": "temporary"})

    async def delete_user(self, name: str) -> None:
        """Remove the user (the hub stops its server first). A missing user is fine."""
        try:
            response = await self.http.delete(self._url(f"/users/{quote(name)}"))
        except httpx.HTTPError as exc:
            raise HubError(f"The hub could not be reached ({exc.__class__.__name__}).") from exc
        if response.status_code >= 400 and response.status_code != 404:
            raise HubError(f"The hub did not delete {name}: {_message(response)}")

    async def start_server(self, name: str, user_options: dict[str, object]) -> int:
        """Ask for the user's default server; 201 = running, 202 = starting."""
        response = await self._request("POST", f"/users/{quote(name)}/server", body=user_options)
        return response.status_code

    async def progress(self, name: str, timeout: float) -> AsyncGenerator[HubProgress, None]:
        """The hub's spawn progress events until ``ready`` or ``failed``."""
        url = self._url(f"/users/{quote(name)}/server/progress")
        try:
            async with self.http.stream("GET", url, timeout=httpx.Timeout(timeout, connect=10)) \
                    as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise HubError(f"The hub answered {response.status_code} to the progress "
                                   f"request: {_message(response)}")
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    try:
                        event = cast(HubProgress, json.loads(line[5:].strip()))
                    except ValueError:
                        continue
                    yield event
                    if event.get("ready") or event.get("failed"):
                        return
        except httpx.HTTPError as exc:
            raise HubError(f"Lost contact with the hub while the server started "
                           f"({exc.__class__.__name__}).") from exc

    async def create_token(self, name: str, note: str = "binder launch") -> str:
        """A token that opens only this user's server (scope ``access:servers!user=<name>``)."""
        response = await self._request(
            "POST", f"/users/{quote(name)}/tokens",
            body={"scopes": [f"access:servers!user={name}"], "note": note},
        )
        return str(response.json()["token"])

    async def launch(self, user: str, image: str, timeout: float
                     ) -> AsyncGenerator[RetryNote | ProgressNote | ServerReady, None]:
        """Start a server of ``image`` for the new temporary ``user``; the one launch protocol.

        Creates the user, asks for its server (waiting and asking again while the hub
        is busy), then follows the hub's progress. Yields notes for the person waiting
        and ends with :class:`ServerReady`; raises :class:`HubError` when the server
        fails or is not ready within ``timeout`` seconds, after removing the user again.
        Close the iterator (``contextlib.aclosing``) when stopping early, so the user is
        removed then too.
        """
        deadline = time.monotonic() + timeout
        created = ready = False
        try:
            await self.create_user(user)
            created = True
            while True:
                try:
                    await self.start_server(user, {"image": image})
                    break
                except HubBusy as busy:
                    if time.monotonic() + busy.retry_after > deadline:
                        raise
                    yield RetryNote("Many servers are starting right now; trying again in "
                                    f"{busy.retry_after:.0f} s...\n")
                    # Spread the retries so waiting launches do not all come back at once.
                    await asyncio.sleep(min(busy.retry_after, 5) * (0.5 + random.random()))
            async with aclosing(self.progress(user, timeout)) as events:
                async for event in events:
                    if event.get("failed"):
                        raise HubError("The server failed to start: "
                                       f"{event.get('message', 'no reason given')}")
                    if event.get("ready"):
                        ready = True
                        url = event.get("url") or f"/user/{user}/"
                        # A whole URL: the server has its own subdomain ([hub] subdomain_host).
                        url_path = url if "://" in url else url.lstrip("/")
                        yield ServerReady(url_path)
                        return
                    if time.monotonic() > deadline:
                        raise HubError(f"The server did not start within {timeout:.0f} s.")
                    message = str(event.get("message", "")).rstrip("\n")
                    if message:
                        yield ProgressNote(message + "\n", event.get("progress"))
            raise HubError("The hub stopped reporting before the server was ready.")
        finally:
            if created and not ready:
                await self.remove_user(user)

    async def remove_user(self, name: str) -> None:
        """Delete a temporary user even while being cancelled; a failure is only logged
        (the reconciler removes a leftover user later)."""
        with anyio.CancelScope(shield=True):
            try:
                await self.delete_user(name)
            except HubError:
                log.warning("could not remove temporary user %s", name)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
    except ValueError:
        pass
    return response.text[:300] or response.reason_phrase
