"""Where users' servers live: on the hub's origin, or each on a subdomain of its own.

With ``[hub] subdomain_host = "https://hub.example.org"`` (JupyterHub's setting of the
same name) the hub answers on ``hub.example.org`` and alice's server on
``https://alice.hub.example.org/user/alice/``: the browser keeps the two apart, so a
script in alice's notebook cannot read the hub's pages or cookies, nor send the hub a
request that carries the viewer's XSRF token (issue 8, finding 2). Without it every
server shares the hub's origin; see docs/security.md for what that mode still protects.

Names become DNS labels here (:func:`dns_label`); the proxy routes by host
(``/alice.hub.example.org/user/alice/``, configurable-http-proxy's host routing).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import URL
from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bindery.hub.names import InvalidName, check_name
from bindery.hub.server_state import server_base_url

#: A name usable as it is: lowercase letters, digits and inner single hyphens, ≤ 63.
_PLAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?!-)){0,61}(?<!-)")
_HOSTNAME = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")


def dns_label(name: str) -> str:
    """The subdomain label of a user: the name itself when it is a plain DNS label.

    Any other name (``.``, ``_``, ``--``, too long) becomes a readable prefix, ``--`` and
    12 hex digits of its SHA-256: ``a.b_c`` → ``a-b-c--<hash>``. A plain label never
    contains ``--``, so escaped labels cannot collide with plain ones, and the ``--`` at
    positions 3–4 that marks punycode (``xn--``) is never produced by the plain rule.
    """
    if _PLAIN_LABEL.fullmatch(name):
        return name
    prefix = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", name.lower())).strip("-")[:40].rstrip("-")
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{prefix}--{digest}" if prefix else f"u--{digest}"


def normalise_subdomain_host(value: str) -> str:
    """``bindery.localhost:8000`` → ``http://bindery.localhost:8000``; errors say why not."""
    value = value.strip().rstrip("/")
    if not value:
        return ""
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"subdomain_host must be http:// or https://, got {value!r}")
    if parts.path or parts.query or parts.fragment or parts.username:
        raise ValueError(f"subdomain_host is a host (and port), not a URL with a path: {value!r}")
    host = (parts.hostname or "").lower()
    if not _HOSTNAME.fullmatch(host) or host.replace(".", "").isdigit():
        raise ValueError(
            f"subdomain_host needs a DNS name whose subdomains reach this proxy "
            f"(e.g. hub.example.org with a wildcard record, or bindery.localhost), got {value!r}"
        )
    try:
        port = parts.port
    except ValueError as err:
        raise ValueError(f"subdomain_host has an invalid port: {value!r}") from err
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


@dataclass(frozen=True)
class UserOrigins:
    """The hub's rule for servers' addresses; ``subdomain_host`` empty = one shared origin."""

    subdomain_host: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.subdomain_host)

    @property
    def _parts(self) -> tuple[str, str, str]:
        parts = urlsplit(self.subdomain_host)
        port = f":{parts.port}" if parts.port else ""
        return parts.scheme, (parts.hostname or ""), port

    @property
    def hub_hostname(self) -> str:
        return self._parts[1]

    def host_of(self, user: str) -> str:
        """``alice.hub.example.org`` (no port): the host alice's servers answer on."""
        return f"{dns_label(user)}.{self.hub_hostname}"

    def server_url(self, user: str, server_name: str = "") -> str:
        """Where a browser opens the server: a path on the hub's origin, or a whole URL."""
        path = server_base_url(user, server_name)
        if not self.enabled:
            return path
        scheme, _, port = self._parts
        return f"{scheme}://{self.host_of(user)}{port}{path}"

    def routespec(self, user: str, server_name: str = "") -> str:
        """The proxy route: ``/user/alice/``, or ``/alice.hub.example.org/user/alice/``."""
        path = server_base_url(user, server_name)
        return f"/{self.host_of(user)}{path}" if self.enabled else path

    def is_user_host(self, host: str) -> bool:
        """Is ``host`` (``Host`` header, port allowed) one of the users' subdomains?"""
        if not self.enabled:
            return False
        name = host.rsplit(":", 1)[0].lower().rstrip(".")
        return name.endswith("." + self.hub_hostname)

    def server_next(self, value: str) -> str | None:
        """``value`` if it is a whole URL of a user's server on its own subdomain.

        The open-redirect guard accepts these besides same-origin paths: the login
        page must be able to send a browser back to the server that asked for it.
        """
        if not self.enabled or "\\" in value:
            return None
        parts = urlsplit(value)
        scheme, _, port = self._parts
        try:
            given_port = f":{parts.port}" if parts.port else ""
        except ValueError:
            return None
        if parts.scheme != scheme or given_port != port or parts.username or parts.password:
            return None
        user = user_in_path(parts.path)
        if user is None or (parts.hostname or "") != self.host_of(user):
            return None
        return value


def user_in_path(path: str) -> str | None:
    """``/user/alice/lab`` → ``alice`` (the name unquoted), else ``None``."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] or parts[1] != "user":
        return None
    try:
        return check_name(parts[2])  # valid names need no quoting in a path
    except InvalidName:
        return None


class HubHostOnly:
    """With users' subdomains on, the hub answers only on its own host.

    The proxy sends any host's ``/hub/…`` to the hub; served on ``alice.hub.example.org``
    the hub's pages (and a login made there) would share alice's origin again. Page
    visits are sent to the same path on the hub's host; anything else is refused.
    Requests from this machine's services to the hub's internal address pass.
    """

    def __init__(self, app: ASGIApp, origins: UserOrigins) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not self.origins.enabled:
            await self.app(scope, receive, send)
            return
        host = ""
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1")
                break
        if not self.origins.is_user_host(host):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            url = URL(scope=scope)
            target = self.origins.subdomain_host + url.path + (f"?{url.query}" if url.query else "")
            response: JSONResponse | RedirectResponse = RedirectResponse(target, status_code=302)
        else:
            response = JSONResponse(
                {"status": 403, "message": "The hub answers on its own host only "
                                           f"({self.origins.subdomain_host}), not on a user's."},
                status_code=403,
            )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await response(scope, receive, send)
