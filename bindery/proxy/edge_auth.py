"""Edge authentication: the proxy asks the hub who a request belongs to.

This replaces JupyterHub's OAuth dance inside every single-user server. A route the
hub marked with ``{"user": ..., "server_token": ...}`` is only reachable by that
user; the proxy asks ``GET <auth_url>?user=&path=`` with the client's credentials and
the hub answers 200 / 401 / 403. Positive answers are cached briefly so a notebook
doing hundreds of requests per second costs the hub one request per ``ttl``, except
those the hub marks ``Cache-Control: no-store`` (access through a shared link's token,
which must end the moment the token is revoked).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum

import aiohttp
from multidict import CIMultiDictProxy

from bindery.proxy.protocol import HANDOFF_HEADER, PROXY_TOKEN_HEADER, TOKEN_HEADER


class Verdict(Enum):
    ALLOWED = "allowed"
    NOT_LOGGED_IN = "not_logged_in"
    FORBIDDEN = "forbidden"
    HUB_UNAVAILABLE = "hub_unavailable"


@dataclass(slots=True)
class Decision:
    """The hub's answer plus any cookies it wants set on the client (session refresh)."""

    verdict: Verdict
    set_cookies: list[str] = field(default_factory=list)
    message: str = ""


class TtlLru:
    """A bounded map whose entries expire; oldest-used entries go first when full.

    Twenty lines of OrderedDict instead of a dependency: the proxy only needs
    "remember a yes for a few seconds, never grow without bound".
    """

    def __init__(self, max_size: int, ttl: float) -> None:
        self.max_size = max_size
        self.ttl = ttl
        self._entries: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def hit(self, key: str, now: float) -> bool:
        expires = self._entries.get(key)
        if expires is None:
            return False
        if expires <= now:
            del self._entries[key]
            return False
        self._entries.move_to_end(key)
        return True

    def put(self, key: str, now: float) -> None:
        if self.max_size <= 0 or self.ttl <= 0:
            return
        self._entries[key] = now + self.ttl
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)


def credentials_key(user: str, cookie: str, authorization: str, token: str) -> str:
    """Hash of everything that identifies the client, so secrets are never kept as keys."""
    digest = hashlib.blake2b(digest_size=20)
    for part in (user, cookie, authorization, token):
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\x00")
    return digest.hexdigest()


class EdgeAuthorizer:
    """Asks the hub's auth endpoint, caches ``yes`` answers, and never caches ``no``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        auth_url: str | None,
        cache_ttl: float = 30.0,
        cache_size: int = 4096,
        proxy_token: str = "",
    ) -> None:
        self.session = session
        self.auth_url = auth_url
        # The shared route-API secret proves to the hub that this request comes from
        # the proxy; a header keeps it out of URLs, logs and ``ps`` output.
        self.proxy_token = proxy_token
        self.cache = TtlLru(cache_size, cache_ttl)

    async def authorize(
        self, user: str, path: str, headers: CIMultiDictProxy[str], token: str,
        handoff: str = "",
    ) -> Decision:
        """Decide whether the client behind ``headers``/``token`` is ``user``.

        ``handoff`` is a one-time login code from the hub (never cached: it is spent).
        """
        if not self.auth_url:
            return Decision(
                Verdict.HUB_UNAVAILABLE,
                message="This server requires a login, "
                "but the proxy was started without --auth-url.",
            )
        cookie = headers.get("Cookie", "")
        authorization = headers.get("Authorization", "")
        if not (cookie or authorization or token or handoff):
            # Nothing to check: asking the hub would only say "not logged in".
            return Decision(Verdict.NOT_LOGGED_IN)
        key = credentials_key(user, cookie, authorization, token)
        now = time.monotonic()
        if not handoff and self.cache.hit(key, now):
            return Decision(Verdict.ALLOWED)
        forwarded: dict[str, str] = {}
        if self.proxy_token:
            forwarded[PROXY_TOKEN_HEADER] = self.proxy_token
        if cookie:
            forwarded["Cookie"] = cookie
        if authorization:
            forwarded["Authorization"] = authorization
        if token:
            forwarded[TOKEN_HEADER] = token
        if handoff:
            forwarded[HANDOFF_HEADER] = handoff
        try:
            async with self.session.get(
                self.auth_url,
                params={"user": user, "path": path},
                headers=forwarded,
                allow_redirects=False,
            ) as answer:
                set_cookies = answer.headers.getall("Set-Cookie", [])
                if answer.status == 200:
                    if not handoff and "no-store" not in answer.headers.get("Cache-Control", "").lower():
                        self.cache.put(key, time.monotonic())
                    return Decision(Verdict.ALLOWED, set_cookies)
                if answer.status == 401:
                    return Decision(Verdict.NOT_LOGGED_IN, set_cookies)
                if answer.status == 403:
                    return Decision(Verdict.FORBIDDEN, set_cookies)
                return Decision(
                    Verdict.HUB_UNAVAILABLE,
                    message=f"The hub answered the login check with HTTP {answer.status}.",
                )
        except (aiohttp.ClientError, TimeoutError) as err:
            return Decision(
                Verdict.HUB_UNAVAILABLE,
                message=f"The hub could not be reached to check your login ({type(err).__name__}).",
            )
