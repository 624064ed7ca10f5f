"""The proxy routes of users' servers: added, removed and restored with a time limit and metrics.

The proxy is told about a server only once it answers, and told to forget it before
the server is stopped; :class:`ServerRoutes` is the one place that talks to the
proxy's route API on the server manager's behalf.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from bindery.hub.metrics import HubMetrics
from bindery.hub.origins import UserOrigins
from bindery.hub.proxy.base import Proxy, ProxyError

log = logging.getLogger("bindery.hub.routing")


@dataclass(frozen=True)
class RoutedServer:
    """What the proxy needs to route to a running server."""

    user: str
    name: str
    target: str
    token: str


class ServerRoutes:
    """Route changes for users' servers (no proxy configured: every change is a no-op)."""

    def __init__(
        self, proxy: Proxy | None, hub_url: str, timeout: float, metrics: HubMetrics,
        origins: UserOrigins | None = None,
    ) -> None:
        self.proxy = proxy
        #: Route specs carry the server's host when users have their own subdomains.
        self.origins = origins or UserOrigins()
        self.hub_url = hub_url
        self.timeout = timeout
        self.metrics = metrics

    async def _call(self, operation: str, change: Awaitable[None]) -> None:
        try:
            await asyncio.wait_for(change, self.timeout)
        except (TimeoutError, ProxyError) as err:
            self.metrics.proxy_route_ops.labels(operation, "error").inc()
            raise ProxyError(f"The proxy did not accept the route change: {err}") from err
        self.metrics.proxy_route_ops.labels(operation, "ok").inc()

    async def add(self, server: RoutedServer) -> None:
        """Route ``/user/<user>/[<name>/]`` to the server; raises ``ProxyError``."""
        if self.proxy is None:
            return
        data = {"user": server.user, "server_name": server.name, "server_token": server.token}
        await self._call(
            "add",
            self.proxy.add_route(self.origins.routespec(server.user, server.name), server.target,
                                 data),
        )

    async def delete(self, user: str, name: str) -> None:
        """Forget the server's route; raises ``ProxyError``."""
        if self.proxy is None:
            return
        await self._call("delete", self.proxy.delete_route(self.origins.routespec(user, name)))

    async def restore(
        self, routes: dict[str, dict[str, Any]], running: Iterable[RoutedServer]
    ) -> int:
        """Re-add routes of ``running`` servers missing from ``routes`` (e.g. the proxy restarted
        on its own), and the hub's own ``/hub/`` route; returns how many server routes were
        missing."""
        missing = 0
        # Proxies store a route's path decoded (/user/josé/) or as sent (/user/jos%C3%A9/).
        known = {unquote(spec) for spec in routes}
        for server in running:
            spec = self.origins.routespec(server.user, server.name)
            if unquote(spec) not in known:
                missing += 1
                log.warning("the proxy lost the route %s; adding it again", spec)
                try:
                    await self.add(server)
                except ProxyError:
                    log.warning("could not restore the route %s", spec)
        if self.proxy is not None and "/hub/" not in routes:
            try:
                await self.proxy.add_route("/hub/", self.hub_url, {"hub": True})
            except ProxyError:
                pass
        return missing
