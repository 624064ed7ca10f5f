"""One id per request, carried binder → hub → proxy in ``X-Request-Id`` and logged by each.

A launch touches three processes; with the same id in each one's log lines (JSON logs
carry it as ``request_id``) a person can follow one launch through all of them. An
incoming id is kept if it looks like one (at most 64 of ``[A-Za-z0-9._-]``: it ends up
in log lines, so nothing else is trusted); otherwise a new one is made.

Pure ASGI and the standard library only, so every part can use it.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

HEADER = "X-Request-Id"
_VALID = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: The id of the request being handled in this task ("" outside a request).
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def new_request_id() -> str:
    return secrets.token_hex(8)


def accepted(value: str | None) -> str:
    """``value`` if it is a well-formed id, else a fresh one."""
    return value if value and _VALID.fullmatch(value) else new_request_id()


def current() -> str:
    return request_id_var.get()


def outgoing_headers() -> dict[str, str]:
    """Headers to pass the current id on to the next service (none outside a request)."""
    value = request_id_var.get()
    return {HEADER: value} if value else {}


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestIdMiddleware:
    """Sets :data:`request_id_var` for each HTTP request and echoes it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers") or []:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        rid = accepted(incoming)
        token = request_id_var.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", rid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
