"""Background loops: route activity from the proxy, and built-in idle culling.

Activity comes from two places: the proxy's per-route ``last_activity`` (polled
here) and ``POST /hub/api/users/<name>/activity``. The culler stops servers idle
longer than ``cull.timeout`` or older than ``cull.max_age``, and forgets
temporary users (Binder visitors) once they have no server left.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import select

from bindery.hub.context import HubContext
from bindery.hub.db.models import Server, User, utcnow
from bindery.hub.proxy.base import ProxyError
from bindery.hub.server_state import ServerStatus, status_is
from bindery.hub.servers import NoSuchServer, NoSuchUser

log = logging.getLogger("bindery.hub.culler")


async def poll_activity(hub: HubContext) -> int:
    """Copy route ``last_activity`` from the proxy into servers and users; returns rows updated.

    Also re-adds routes the proxy lost, since this already holds its full route table.
    """
    if hub.proxy is None:
        return 0
    routes = await hub.proxy.get_all_routes()
    await hub.manager.check_routes(routes)
    latest: dict[tuple[str, str], dt.datetime] = {}
    for route in routes.values():
        data = route.get("data") or {}
        when = route.get("last_activity")
        if isinstance(data.get("user"), str) and when is not None:
            latest[(data["user"], data.get("server_name") or "")] = when
    if not latest:
        return 0
    updated = 0
    now = utcnow()
    with hub.db() as s:
        for server in s.scalars(select(Server).where(status_is(ServerStatus.RUNNING))):
            when = latest.get((server.user.name, server.name))
            if when is None:
                continue
            when = min(when, now)
            if server.last_activity is None or when > server.last_activity:
                server.last_activity = when
                updated += 1
            if server.user.last_activity is None or when > server.user.last_activity:
                server.user.last_activity = when
        s.commit()
    return updated


async def activity_loop(hub: HubContext) -> None:
    while True:
        await asyncio.sleep(hub.settings.activity_poll_interval)
        try:
            await poll_activity(hub)
            hub.manager.refresh_gauges()
        except ProxyError as err:
            log.warning("could not read route activity: %s", err)
        except Exception:
            log.exception("activity poll failed")


async def server_check_loop(hub: HubContext) -> None:
    """Every ``server_poll_interval`` s: servers that ended on their own are shown stopped."""
    while True:
        await asyncio.sleep(hub.settings.server_poll_interval)
        try:
            await hub.manager.check_servers()
        except Exception:
            log.exception("checking servers failed")


async def cull_once(hub: HubContext) -> list[str]:
    """One culling round; returns ``user/server`` names stopped (idle temporary users go too)."""
    settings = hub.settings.cull
    now = utcnow()
    victims: list[tuple[str, str, str]] = []
    with hub.db() as s:
        for server in s.scalars(select(Server).where(status_is(ServerStatus.RUNNING))):
            last = server.last_activity or server.started
            if (
                settings.timeout
                and last is not None
                and (now - last).total_seconds() > settings.timeout
            ):
                victims.append((server.user.name, server.name, "idle"))
            elif (
                settings.max_age
                and server.started
                and (now - server.started).total_seconds() > settings.max_age
            ):
                victims.append((server.user.name, server.name, "max_age"))
    stopped = []
    for user, name, reason in victims:
        log.info("culling %s/%s (%s)", user, name, reason)
        try:
            await hub.manager.stop(user, name)
        except (NoSuchUser, NoSuchServer):
            continue  # deleted meanwhile: nothing left to cull
        hub.metrics.culled_servers.labels(reason).inc()
        stopped.append(f"{user}/{name}")
    if settings.temporary_users:
        with hub.db() as s:
            for visitor in s.scalars(select(User).where(User.kind == "temporary")):
                if not any(ServerStatus.of(srv).active for srv in visitor.servers) and (
                    (visitor.last_activity or visitor.created)
                    < now - dt.timedelta(seconds=settings.timeout or 0)
                    or any(f"{visitor.name}/" in v for v in stopped)
                ):
                    s.delete(visitor)
            s.commit()
    return stopped


async def cull_loop(hub: HubContext) -> None:
    while True:
        await asyncio.sleep(hub.settings.cull.every)
        try:
            await poll_activity(hub)
            await cull_once(hub)
        except Exception:
            log.exception("culling round failed")
