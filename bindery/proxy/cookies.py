"""What crosses between a browser and a user's server: hub cookies never do, either way.

A user's server runs its owner's code. If it received the hub's cookies it could
replay them; if its ``Set-Cookie`` answers reached the browser it could plant or
overwrite them (issue 8, finding 2: an upstream set ``bindery-session=…; Path=/hub/``
and it reached the browser). So, on routes to users' servers only:

- requests lose every hub cookie (``bindery-*``, ``_xsrf``) before they go upstream;
- answers lose every ``Set-Cookie`` that names one of them;
- a request the proxy authenticates on the browser's behalf (it adds the server's
  token) must come from the server's own origin when it can change something: the
  server sees a token and skips its own cross-site checks, so the proxy makes them;
  and another site's page may open a server (a link, a frame) but not pull its files
  in as scripts, images or fetches (Fetch Metadata: ``Sec-Fetch-Site``/``-Mode``).

Kept apart from the relay code so the rules stay small and testable alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from multidict import CIMultiDict

from bindery.proxy.protocol import HUB_COOKIE_NAMES, HUB_COOKIE_PREFIX

#: Methods that change nothing (a cross-site GET cannot read the answer anyway).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_hub_cookie(name: str) -> bool:
    """``bindery-session``, ``bindery-server``, ``bindery-xsrf``, … and ``_xsrf``."""
    name = name.strip()
    return name in HUB_COOKIE_NAMES or name.lower().startswith(HUB_COOKIE_PREFIX)


def without_hub_cookies(cookie_header: str) -> str:
    """The ``Cookie`` header minus every hub cookie (possibly empty)."""
    kept = [
        part.strip()
        for part in cookie_header.split(";")
        if part.strip() and not is_hub_cookie(part.split("=", 1)[0])
    ]
    return "; ".join(kept)


def strip_hub_cookies(headers: CIMultiDict[str]) -> None:
    """Remove hub cookies from request ``headers`` in place (all ``Cookie`` lines)."""
    values = headers.getall("Cookie", [])
    if not values:
        return
    headers.popall("Cookie")
    remaining = without_hub_cookies("; ".join(values))
    if remaining:
        headers["Cookie"] = remaining


def set_cookie_name(value: str) -> str:
    """The cookie name of a ``Set-Cookie`` value (``a=b; Path=/`` → ``a``)."""
    return value.split(";", 1)[0].split("=", 1)[0].strip()


def upstream_set_cookies_allowed(values: Iterable[str]) -> list[str]:
    """The upstream's ``Set-Cookie`` values that may reach the browser."""
    return [value for value in values if not is_hub_cookie(set_cookie_name(value))]


def same_origin(origin: str | None, host: str | None) -> bool:
    """Does the ``Origin`` header name the host the request was sent to?

    Compared as ``host[:port]``, as jupyter_server does: the scheme may differ behind a
    TLS-terminating front end. ``Origin: null`` (sandboxed frames, opaque origins) is
    never the server's own.
    """
    if not origin or not host:
        return False
    netloc = urlsplit(origin).netloc
    return bool(netloc) and netloc.lower() == host.lower()


def cross_origin_change(method: str, origin: str | None, host: str | None,
                        websocket: bool) -> bool:
    """A request from another origin that could change the server (or a WebSocket to it).

    Browsers send ``Origin`` with every cross-origin POST/PUT/PATCH/DELETE and every
    WebSocket handshake; programs usually send none, and a program is not a browser
    carrying someone else's cookies.
    """
    if origin is None:
        return False
    if method in SAFE_METHODS and not websocket:
        return False
    return not same_origin(origin, host)


def foreign_subresource(site: str | None, mode: str | None) -> bool:
    """A browser loading a server's content *into another origin's page* (not opening it).

    ``Sec-Fetch-Site`` is ``same-site`` for another user's subdomain and ``cross-site``
    for any other site; such a load is allowed only as a navigation (a link, a form, a
    frame). Browsers without Fetch Metadata send neither header and are let through.
    """
    if site not in ("same-site", "cross-site"):
        return False
    return mode not in ("navigate", "nested-navigate")
