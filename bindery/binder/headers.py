"""Security headers on every response of the launch service.

The binder's pages are a public origin that shares cookies with the hub behind
``bindery serve``, so a script injected into them could act as the visitor. The
Content-Security-Policy lets the pages run only their own static files (no inline
script or style, no plugins, no ``<base>`` rewrite, forms only to this site) and
never be framed (click-jacking); ``nosniff`` stops a response being read as
another type; the referrer never carries a launch URL to another site. The event
stream (``/build``) only gains headers: its body and streaming are unchanged.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(public_url: str = "") -> str:
    """The binder pages' policy; the configured public URL's origin may serve the badge image.

    The pages' scripts (``/static/binder/*.js``) use ``fetch`` and ``EventSource`` to
    this same origin only and set styles through the DOM, which a policy without
    ``'unsafe-inline'`` allows.
    """
    images = ["'self'", "data:"]
    parts = urlsplit(public_url) if public_url else None
    if parts is not None and parts.scheme in ("http", "https") and parts.netloc:
        images.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {' '.join(images)}",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ])


class SecurityHeaders:
    """ASGI middleware adding the headers to each HTTP response (a route's own values win)."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = {
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
