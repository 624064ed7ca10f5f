"""Starting and stopping users' servers: spawner + readiness + proxy route + DB, in one place.

Everything that changes whether a server runs goes through ``ServerManager`` so the
DB row, the spawner, the proxy route and the metrics never disagree. The spawner's
``get_state()`` is saved in the DB, so a restarted hub finds running servers again
(``reconcile``) instead of forgetting or duplicating them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bindery.errors import BinderyError
from bindery.hub.api.models import server_base_url
from bindery.hub.db.models import Server, User, utcnow
from bindery.hub.metrics import HubMetrics
from bindery.hub.proxy.base import Proxy, ProxyError
from bindery.hub.readiness import wait_until_answers
from bindery.hub.settings import HubSettings
from bindery.hub.spawners.base import ProgressEvent, Spawner, SpawnRequest
from bindery.hub.spawners.errors import TooManyServers

log = logging.getLogger("bindery.hub.servers")

SpawnerFactory = Callable[[SpawnRequest], Spawner]
Key = tuple[str, str]


class SpawnFailed(BinderyError):
    """The server could not be started; the message is shown on the progress page."""


@dataclass
class Transition:
    """A spawn in flight: its task, its progress events and how it ended."""

    task: asyncio.Task[None]
    events: list[dict[str, Any]]
    changed: asyncio.Event
    started_at: float
    done: bool = False

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()


class ServerManager:
    """Owns spawner instances and in-flight transitions of every server of this hub."""

    def __init__(
        self,
        settings: HubSettings,
        db: sessionmaker[Session],
        proxy: Proxy | None,
        spawner_factory: SpawnerFactory,
        metrics: HubMetrics,
    ) -> None:
        self.settings = settings
        self.db = db
        self.proxy = proxy
        self.spawner_factory = spawner_factory
        self.metrics = metrics
        self.spawners: dict[Key, Spawner] = {}
        self.spawns: dict[Key, Transition] = {}
        self.stops: dict[Key, asyncio.Task[None]] = {}
        #: Last failure per server, so a late progress stream can still say why.
        self.failures: dict[Key, str] = {}

    # -- helpers -------------------------------------------------------------

    def _request(self, user: str, name: str, token: str, options: dict[str, Any]) -> SpawnRequest:
        image = options.get("image") if isinstance(options.get("image"), str) else None
        env = {
            "BINDERY_USER": user,
            "BINDERY_SERVER_NAME": name,
            "JUPYTERHUB_USER": user,
            "JUPYTERHUB_SERVER_NAME": name,
            "JUPYTERHUB_API_URL": f"{self.settings.hub_url}/hub/api",
        }
        default_url = options.get("default_url") if isinstance(options.get("default_url"), str) else None
        return SpawnRequest(
            user=user, server_name=name, base_url=server_base_url(user, name), api_token=token,
            image=image or self.settings.spawner.image, env=env, default_url=default_url,
        )

    async def _proxy_call(self, operation: str, coro: Any) -> None:
        try:
            await asyncio.wait_for(coro, self.settings.proxy_timeout)
        except (TimeoutError, ProxyError) as err:
            self.metrics.proxy_route_ops.labels(operation, "error").inc()
            raise ProxyError(f"The proxy did not accept the route change: {err}") from err
        self.metrics.proxy_route_ops.labels(operation, "ok").inc()

    async def add_route(self, user: str, name: str, target: str, token: str) -> None:
        if self.proxy is None:
            return
        data = {"user": user, "server_name": name, "server_token": token}
        await self._proxy_call("add", self.proxy.add_route(server_base_url(user, name), target, data))

    async def delete_route(self, user: str, name: str) -> None:
        if self.proxy is None:
            return
        await self._proxy_call("delete", self.proxy.delete_route(server_base_url(user, name)))

    def count_running(self) -> int:
        with self.db() as s:
            return s.scalar(select(func.count()).select_from(Server).where(Server.started.is_not(None))) or 0

    def refresh_gauges(self) -> None:
        with self.db() as s:
            running = s.scalar(select(func.count()).select_from(Server).where(Server.started.is_not(None)))
            day_ago = utcnow() - dt.timedelta(days=1)
            active = s.scalar(select(func.count()).select_from(User).where(User.last_activity >= day_ago))
            total = s.scalar(select(func.count()).select_from(User))
        self.metrics.running_servers.set(running or 0)
        self.metrics.active_users.set(active or 0)
        self.metrics.total_users.set(total or 0)

    # -- start ----------------------------------------------------------------

    def _check_capacity(self) -> None:
        sp = self.settings.spawner
        pending = sum(1 for t in self.spawns.values() if not t.done)
        if pending >= sp.max_concurrent_spawns:
            raise TooManyServers(
                f"{pending} servers are starting right now (the limit is {sp.max_concurrent_spawns}); "
                "try again in a few seconds.", sp.retry_after)
        if sp.max_active_servers and self.count_running() + pending >= sp.max_active_servers:
            raise TooManyServers(
                f"This hub already runs its maximum of {sp.max_active_servers} servers; "
                "try again later.", sp.retry_after)

    async def start(self, user_name: str, server_name: str, options: dict[str, Any]) -> Transition:
        """Begin starting a server; returns the transition (await ``task`` for the outcome).

        Raises ``TooManyServers`` (→ 429) when capacity is used up.
        """
        key = (user_name, server_name)
        existing = self.spawns.get(key)
        if existing is not None and not existing.done:
            return existing
        self._check_capacity()
        token = secrets.token_hex(32)
        with self.db() as s:
            user = s.scalars(select(User).where(User.name == user_name)).one()
            server = next((x for x in user.servers if x.name == server_name), None)
            if server is None:
                server = Server(name=server_name, state={}, user_options={})
                user.servers.append(server)
            server.pending = "spawn"
            server.user_options = options
            server.image = options.get("image") if isinstance(options.get("image"), str) else None
            server.api_token = token
            s.commit()
        self.failures.pop(key, None)
        transition = Transition(task=None, events=[], changed=asyncio.Event(),  # type: ignore[arg-type]
                                started_at=time.monotonic())
        self.spawns[key] = transition
        transition.task = asyncio.create_task(self._spawn(key, token, options, transition))
        return transition

    async def _spawn(self, key: Key, token: str, options: dict[str, Any], tr: Transition) -> None:
        user_name, server_name = key
        request = self._request(user_name, server_name, token, options)
        spawner = self.spawner_factory(request)
        self.spawners[key] = spawner
        sp = self.settings.spawner
        tr.emit({"progress": 0, "message": "Server requested"})
        forwarder = asyncio.create_task(self._forward_progress(spawner, tr))
        try:
            try:
                limit = None if spawner.enforces_start_timeout else sp.start_timeout
                target = await asyncio.wait_for(spawner.start(), limit)
            except TimeoutError as err:
                raise SpawnFailed(f"The server did not start within {sp.start_timeout:.0f} s.") from err
            tr.emit({"progress": 70, "message": "Server started, waiting for it to answer"})

            async def alive() -> bool:
                return await spawner.poll() is None

            try:
                await wait_until_answers(f"{target.rstrip('/')}{request.base_url}api", token,
                                         sp.http_timeout, alive)
            except TimeoutError as err:
                raise SpawnFailed(f"The server started but {err}.") from err
            await self.add_route(user_name, server_name, target, token)
            now = utcnow()
            with self.db() as s:
                server = self._server_row(s, key)
                server.pending = None
                server.started = now
                server.last_activity = now
                server.url = target
                server.state = spawner.get_state()
                server.user.last_activity = now
                s.commit()
            elapsed = time.monotonic() - tr.started_at
            self.metrics.spawn_duration.labels("success").observe(elapsed)
            url = request.base_url + (request.default_url or "")
            tr.emit({"progress": 100, "ready": True, "message": f"Server ready at {request.base_url}",
                     "html_message": f'Server ready at <a href="{url}">{request.base_url}</a>',
                     "url": url})
            log.info("started %s/%s in %.1f s at %s", user_name, server_name, elapsed, target)
        except Exception as err:  # noqa: BLE001 - any failure must end as a clear "failed" event
            message = str(err) if isinstance(err, BinderyError) else f"{type(err).__name__}: {err}"
            log.warning("spawn of %s/%s failed: %s", user_name, server_name, message)
            self.metrics.spawn_duration.labels("failure").observe(time.monotonic() - tr.started_at)
            self.failures[key] = message
            try:
                await spawner.stop()
            except Exception:
                log.exception("stopping failed spawn %s/%s", *key)
            self.spawners.pop(key, None)
            with self.db() as s:
                server = self._server_row(s, key)
                if server is not None:
                    _mark_stopped(server)
                    s.commit()
            tr.emit({"progress": 100, "failed": True, "message": f"Spawn failed: {message}"})
        finally:
            forwarder.cancel()
            tr.done = True
            tr.emit({"progress": -1, "message": "", "_end": True})
            self.refresh_gauges()

    async def _forward_progress(self, spawner: Spawner, tr: Transition) -> None:
        try:
            async for event in spawner.progress():
                if isinstance(event, ProgressEvent):
                    tr.emit({"progress": max(1, min(event.progress, 69)), "message": event.message})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.debug("spawner progress failed", exc_info=True)

    @staticmethod
    def _server_row(s: Session, key: Key) -> Server | None:
        return s.scalars(
            select(Server).join(User).where(User.name == key[0], Server.name == key[1])
        ).first()

    async def follow(self, key: Key) -> AsyncIterator[dict[str, Any]]:
        """Progress events of the current/last spawn of ``key``, ending with ready or failed."""
        tr = self.spawns.get(key)
        if tr is None:
            return
        index = 0
        while True:
            while index < len(tr.events):
                event = tr.events[index]
                index += 1
                if event.get("_end"):
                    return
                yield event
            changed = tr.changed
            if index < len(tr.events):
                continue
            await changed.wait()

    # -- stop -----------------------------------------------------------------

    async def stop(self, user_name: str, server_name: str) -> asyncio.Task[None]:
        """Begin stopping; await the returned task to know it is gone."""
        key = (user_name, server_name)
        running = self.stops.get(key)
        if running is not None and not running.done():
            return running
        spawning = self.spawns.get(key)
        if spawning is not None and not spawning.done:
            spawning.task.cancel()
        with self.db() as s:
            server = self._server_row(s, key)
            if server is not None:
                server.pending = "stop"
                s.commit()
        task = asyncio.create_task(self._stop(key))
        self.stops[key] = task
        return task

    async def _stop(self, key: Key) -> None:
        spawner = self.spawners.pop(key, None)
        old = self.spawns.get(key)
        if old is not None and old.done:
            # Its events describe a server that is going away; a new spawn starts a new log.
            del self.spawns[key]
        try:
            try:
                await self.delete_route(*key)
            except ProxyError:
                log.warning("could not remove the route of %s/%s", *key)
            if spawner is None:
                spawner = self._spawner_from_db(key)
            if spawner is not None:
                await spawner.stop()
        finally:
            with self.db() as s:
                server = self._server_row(s, key)
                if server is not None:
                    _mark_stopped(server)
                    s.commit()
            self.refresh_gauges()

    def _spawner_from_db(self, key: Key) -> Spawner | None:
        with self.db() as s:
            server = self._server_row(s, key)
            if server is None or server.api_token is None:
                return None
            spawner = self.spawner_factory(self._request(key[0], key[1], server.api_token,
                                                         server.user_options or {}))
            spawner.load_state(server.state or {})
            return spawner

    # -- restart --------------------------------------------------------------

    async def reconcile(self) -> dict[str, int]:
        """After a (re)start: keep servers that still run (restore routes), forget dead ones."""
        counts = {"running": 0, "stopped": 0}
        with self.db() as s:
            rows = [
                (srv.user.name, srv.name, srv.api_token, srv.url, srv.state or {}, srv.user_options or {},
                 srv.pending)
                for srv in s.scalars(select(Server).where(
                    (Server.started.is_not(None)) | (Server.pending.is_not(None))))
            ]
        for user_name, name, token, target, state, options, pending in rows:
            key = (user_name, name)
            spawner = self.spawner_factory(self._request(user_name, name, token or "", options))
            spawner.load_state(state)
            try:
                status = await spawner.poll()
            except Exception:
                log.exception("polling %s/%s", *key)
                status = 1
            if status is None and pending is None and target and token:
                self.spawners[key] = spawner
                try:
                    await self.add_route(user_name, name, target, token)
                except ProxyError:
                    log.warning("could not restore the route of %s/%s", *key)
                counts["running"] += 1
                continue
            if status is None:
                # Half-started when the hub stopped: finish the job by stopping it.
                try:
                    await spawner.stop()
                except Exception:
                    log.exception("stopping %s/%s", *key)
            try:
                await self.delete_route(user_name, name)
            except ProxyError:
                pass
            with self.db() as s:
                server = self._server_row(s, key)
                if server is not None:
                    _mark_stopped(server)
                    s.commit()
            counts["stopped"] += 1
        self.refresh_gauges()
        return counts

    async def check_routes(self, routes: dict[str, dict[str, Any]]) -> int:
        """Re-add routes the proxy lost (e.g. it restarted on its own); returns how many."""
        with self.db() as s:
            running = [(srv.user.name, srv.name, srv.url, srv.api_token)
                       for srv in s.scalars(select(Server).where(Server.started.is_not(None),
                                                                 Server.pending.is_(None)))]
        missing = 0
        for user_name, name, target, token in running:
            spec = server_base_url(user_name, name)
            if spec not in routes and target and token:
                missing += 1
                log.warning("the proxy lost the route %s; adding it again", spec)
                try:
                    await self.add_route(user_name, name, target, token)
                except ProxyError:
                    log.warning("could not restore the route %s", spec)
        if self.proxy is not None and "/hub/" not in routes:
            try:
                await self.proxy.add_route("/hub/", self.settings.hub_url, {"hub": True})
            except ProxyError:
                pass
        return missing

    async def shutdown(self) -> None:
        """Hub exit: cancel spawns in flight but leave running servers alone."""
        for tr in self.spawns.values():
            if not tr.done:
                tr.task.cancel()
        for task in self.stops.values():
            if not task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(task), 10)
                except (TimeoutError, Exception):  # noqa: BLE001
                    pass


def _mark_stopped(server: Server) -> None:
    server.pending = None
    server.started = None
    server.url = None
    server.state = {}
    server.api_token = None
