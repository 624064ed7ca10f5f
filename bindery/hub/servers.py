"""The domain service of users' servers: start/stop policy, server state, progress.

Everything that changes whether a server runs goes through ``ServerManager`` so the
DB row, the spawner, the proxy route and the metrics never disagree, and everything
that asks about a server (API, pages, culler) asks it rather than reading rows or
in-memory bookkeeping itself. The spawner's ``get_state()`` is saved in the DB, so a
restarted hub finds running servers again (``reconcile``) instead of forgetting or
duplicating them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session, sessionmaker

from bindery.errors import BinderyError
from bindery.eventlog import EventLog
from bindery.hub import audit
from bindery.hub.db.models import Server, User, utcnow
from bindery.hub.metrics import HubMetrics
from bindery.hub.oauth_provider.provider import forget_server_client, register_server_client
from bindery.hub.oauth_provider.singleuser import singleuser_env
from bindery.hub.proxy.base import Proxy, ProxyError
from bindery.hub.routing import RoutedServer, ServerRoutes
from bindery.hub.server_state import ServerState, ServerStatus, active, server_base_url, status_is
from bindery.hub.settings import HubSettings
from bindery.hub.spawn_events import SpawnEvent
from bindery.hub.spawners.base import ProgressEvent, Spawner, SpawnRequest
from bindery.hub.spawners.errors import TooManyServers
from bindery.hub.spawners.factory import SpawnerFactory
from bindery.readiness import NotReady, status_url, wait_until_ready

log = logging.getLogger("bindery.hub.servers")

Key = tuple[str, str]
#: What a client asked for when starting a server (a JSON object, stored as ``user_options``).
UserOptions = dict[str, Any]


class SpawnFailed(BinderyError):
    """The server could not be started; the message is shown on the progress page."""


class NoSuchUser(BinderyError):
    """The user named in a request does not exist."""


class NoSuchServer(BinderyError):
    """The user has no named server of that name."""


class StartRefused(BinderyError):
    """A start that the hub's policy or the server's state does not allow; the message says why."""


class AlreadyRunning(StartRefused):
    """The server runs already (pages simply send the person there)."""


class NothingToFollow(BinderyError):
    """A progress request for a server that is neither running, starting nor failed to start."""


@dataclass
class Spawn:
    """One start of a server: its task and its replayable progress."""

    #: Ends with why the start failed, or ``None`` once the server is ready.
    task: asyncio.Task[str | None]
    #: Every progress event of this start, closed when the start ends.
    events: EventLog[SpawnEvent]

    @property
    def done(self) -> bool:
        return self.task.done()

    @property
    def failure(self) -> str | None:
        """Why this start failed (``None`` while it runs, after success, or if it was cancelled)."""
        if not self.task.done() or self.task.cancelled():
            return None
        return self.task.result()

    async def finished(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the start to end; True if it did."""
        done, _ = await asyncio.wait({self.task}, timeout=timeout)
        return bool(done)


class ServerManager:
    """Owns the policy, spawner instances and transitions of every server of this hub."""

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
        self.routes = ServerRoutes(proxy, settings.hub_url, settings.proxy_timeout, metrics,
                                   settings.origins)
        self.spawner_factory = spawner_factory
        self.metrics = metrics
        self._spawners: dict[Key, Spawner] = {}
        self._spawns: dict[Key, Spawn] = {}
        self._stops: dict[Key, asyncio.Task[None]] = {}
        #: Named servers whose row goes once their stop ends.
        self._remove_after_stop: set[Key] = set()
        #: Last failure per server, so a late progress stream or page can still say why.
        self._failures: dict[Key, str] = {}

    # -- what a server is doing ----------------------------------------------

    def state(self, user_name: str, server_name: str) -> ServerState:
        """The server's status, with the reason its last start failed if it did."""
        with self.db() as s:
            row = self._server_row(s, (user_name, server_name))
            status = ServerStatus.of(row)
            saved = row.last_error if row is not None else None
        return ServerState(status, self._failures.get((user_name, server_name)) or saved)

    def progress(self, user_name: str, server_name: str) -> AsyncIterator[SpawnEvent]:
        """Progress of the server's current or last start, ending with a ready or failed event.

        A server that runs without a start in memory (e.g. after a hub restart) reports
        ready at once. Raises ``NothingToFollow`` when there is nothing to report.
        """
        key = (user_name, server_name)
        state = self.state(user_name, server_name)
        spawn = self._spawns.get(key)
        if state.status is ServerStatus.RUNNING and (spawn is None or spawn.done):
            return _one(SpawnEvent.ready_at(self.settings.origins.server_url(user_name, server_name),
                                            link=False))
        if spawn is not None:
            return spawn.events.follow()
        if state.failure is not None:
            return _one(SpawnEvent.failed_because(state.failure))
        raise NothingToFollow(
            f"The server of {user_name!r}{'/' + server_name if server_name else ''} "
            "is not running and not starting."
        )

    def count_running(self) -> int:
        """Servers holding resources: running ones and those still stopping."""
        with self.db() as s:
            return self._count_running(s)

    @staticmethod
    def _count_running(s: Session) -> int:
        running = status_is(ServerStatus.RUNNING, ServerStatus.STOPPING)
        return s.scalar(select(func.count()).select_from(Server).where(running)) or 0

    def refresh_gauges(self) -> None:
        with self.db() as s:
            running = self._count_running(s)
            day_ago = utcnow() - dt.timedelta(days=1)
            recent = s.scalar(
                select(func.count()).select_from(User).where(User.last_activity >= day_ago)
            )
            total = s.scalar(select(func.count()).select_from(User))
        self.metrics.running_servers.set(running)
        self.metrics.active_users.set(recent or 0)
        self.metrics.total_users.set(total or 0)

    # -- start ----------------------------------------------------------------

    def _request(self, user: str, name: str, token: str, options: UserOptions) -> SpawnRequest:
        base_url = server_base_url(user, name)
        env = {
            "BINDERY_USER": user,
            "BINDERY_SERVER_NAME": name,
            **singleuser_env(self.settings, user, name, token, base_url),
        }
        default_url = (
            options.get("default_url") if isinstance(options.get("default_url"), str) else None
        )
        return SpawnRequest(
            user=user,
            server_name=name,
            base_url=base_url,
            api_token=token,
            image=_requested_image(options) or self.settings.spawner.image,
            env=env,
            default_url=default_url,
            hub_host=self.settings.subdomain_host,
            # Without the built-in proxy nobody checks users at the edge (docs/hub.md).
            # nginx checks users at the edge too (auth_request), like the built-in proxy.
            hub_auth=self.settings.proxy.kind not in ("builtin", "nginx"),
        )

    def _check_image(self, options: UserOptions) -> None:
        image = options.get("image")
        if image is None:
            return
        if not isinstance(image, str) or not image or len(image) > 255:
            raise StartRefused(
                "'image' must be an image name such as 'bindery-r/owner-repo:abc123'."
            )
        sp = self.settings.spawner
        if image != sp.image and not any(fnmatch.fnmatchcase(image, p) for p in sp.allowed_images):
            raise StartRefused(
                f"The image {image!r} is not allowed here (allowed: "
                f"{', '.join(sp.allowed_images) or 'only the default image'})."
            )

    def _check_startable(self, user: User, server_name: str) -> Server | None:
        """The server's row if this start is allowed; else ``StartRefused`` saying why."""
        row = next((srv for srv in user.servers if srv.name == server_name), None)
        if server_name:
            if not self.settings.allow_named_servers:
                raise StartRefused("Named servers are not enabled on this hub.")
            limit = self.settings.named_server_limit_per_user
            named_active = [srv for srv in user.servers if srv.name and ServerStatus.of(srv).active]
            if limit and row is None and len(named_active) >= limit:
                raise StartRefused(
                    f"User {user.name!r} already has the maximum of {limit} named servers."
                )
        status = ServerStatus.of(row)
        if status is ServerStatus.STOPPING:
            raise StartRefused(
                f"The server {user.name}/{server_name} is stopping; try again shortly."
            )
        if status is ServerStatus.RUNNING:
            raise AlreadyRunning(
                f"The server of {user.name!r}{'/' + server_name if server_name else ''} "
                "is already running."
            )
        return row

    def _check_capacity(self, s: Session) -> None:
        """``TooManyServers`` (→ 429 + Retry-After) when one more start would overload the hub.

        Starts in flight count against both limits; no ``await`` lies between this
        check and registering the new start, so concurrent requests cannot both pass.
        """
        sp = self.settings.spawner
        starting = sum(1 for spawn in self._spawns.values() if not spawn.done)
        if starting >= sp.max_concurrent_spawns:
            raise TooManyServers(
                f"{starting} servers are starting right now "
                f"(the limit is {sp.max_concurrent_spawns}); "
                "try again in a few seconds.",
                sp.retry_after,
            )
        if sp.max_active_servers and self._count_running(s) + starting >= sp.max_active_servers:
            raise TooManyServers(
                f"This hub already runs its maximum of {sp.max_active_servers} servers; "
                "try again later.",
                sp.retry_after,
            )

    async def start(self, user_name: str, server_name: str, options: UserOptions) -> Spawn:
        """Begin starting a server, or join the start already under way.

        Raises ``StartRefused`` (``AlreadyRunning``) when policy or state forbids it,
        ``NoSuchUser``, and ``TooManyServers`` when capacity is used up.
        """
        key = (user_name, server_name)
        self._check_image(options)
        token = secrets.token_hex(32)
        with self.db() as s:
            user = _user(s, user_name)
            server = self._check_startable(user, server_name)
            existing = self._spawns.get(key)
            if existing is not None and not existing.done:
                return existing
            self._check_capacity(s)
            if server is None:
                server = Server(name=server_name, state={}, user_options={})
                user.servers.append(server)
            server.pending = ServerStatus.STARTING.pending
            server.user_options = options
            server.image = _requested_image(options)
            server.api_token = token
            # The token is the server's API token and OAuth client secret too (JupyterHub's).
            register_server_client(s, user, server_name, token, server_base_url(*key))
            server.last_error = None
            s.commit()
        self._failures.pop(key, None)
        events: EventLog[SpawnEvent] = EventLog()
        task = asyncio.create_task(self._spawn(key, token, options, events, time.monotonic()))
        spawn = self._spawns[key] = Spawn(task, events)
        return spawn

    async def _spawn(
        self,
        key: Key,
        token: str,
        options: UserOptions,
        events: EventLog[SpawnEvent],
        started_at: float,
    ) -> str | None:
        """Run one start to its end; returns why it failed, or ``None`` when the server is ready."""
        user_name, server_name = key
        request = self._request(user_name, server_name, token, options)
        spawner = self.spawner_factory(request)
        self._spawners[key] = spawner
        sp = self.settings.spawner
        events.append(SpawnEvent(progress=0, message="Server requested"))
        forwarder = asyncio.create_task(_forward_progress(spawner, events))
        try:
            try:
                limit = None if spawner.enforces_start_timeout else sp.start_timeout
                target = await asyncio.wait_for(spawner.start(), limit)
            except TimeoutError as err:
                raise SpawnFailed(
                    f"The server did not start within {sp.start_timeout:.0f} s."
                ) from err
            events.append(
                SpawnEvent(progress=70, message="Server started, waiting for it to answer")
            )

            async def alive() -> bool:
                return await spawner.poll() is None

            try:
                await wait_until_ready(
                    status_url(target, request.base_url), token, sp.http_timeout, alive
                )
            except NotReady as err:
                raise SpawnFailed(f"The server started but {err}.") from err
            await self.routes.add(RoutedServer(user_name, server_name, target, token))
            now = utcnow()
            with self.db() as s:
                server = self._server_row(s, key)
                if server is None:
                    raise SpawnFailed("The server was removed while it started.")
                server.pending = None
                server.started = now
                server.last_activity = now
                server.url = target
                server.state = spawner.get_state()
                server.user.last_activity = now
                s.commit()
            elapsed = time.monotonic() - started_at
            self.metrics.spawn_duration.labels("success").observe(elapsed)
            where = self.settings.origins.server_url(user_name, server_name)
            events.append(SpawnEvent.ready_at(where, where + (request.default_url or "")))
            audit.record("server.started", user=user_name, server=server_name,
                         image=getattr(spawner, "image", None) or request.image)
            log.info("started %s/%s in %.1f s at %s", user_name, server_name, elapsed, target)
            return None
        except Exception as err:  # noqa: BLE001 - any failure must end as a clear "failed" event
            message = str(err) if isinstance(err, BinderyError) else f"{type(err).__name__}: {err}"
            log.warning("spawn of %s/%s failed: %s", user_name, server_name, message)
            self.metrics.spawn_duration.labels("failure").observe(time.monotonic() - started_at)
            self._failures[key] = message
            try:
                await spawner.stop()
            except Exception:
                log.exception("stopping failed spawn %s/%s", *key)
            self._spawners.pop(key, None)
            with self.db() as s:
                server = self._server_row(s, key)
                if server is not None:
                    _mark_stopped(server)
                    server.last_error = message
                    s.commit()
            events.append(SpawnEvent.failed_because(message))
            return message
        finally:
            forwarder.cancel()
            events.close()
            self.refresh_gauges()

    @staticmethod
    def _server_row(s: Session, key: Key) -> Server | None:
        return s.scalars(
            select(Server).join(User).where(User.name == key[0], Server.name == key[1])
        ).first()

    # -- stop -----------------------------------------------------------------

    async def stop(
        self, user_name: str, server_name: str, *, remove: bool = False, wait: float | None = None
    ) -> bool:
        """Stop a server (a start under way is cancelled); with ``remove``, also forget a named one.

        Waits ``wait`` seconds (``None``: until done) and returns whether the stop has ended;
        it goes on in the background otherwise. Raises ``NoSuchUser``, and ``NoSuchServer``
        for a named server the user does not have.
        """
        key = (user_name, server_name)
        remove = remove and bool(server_name)
        with self.db() as s:
            _user(s, user_name)
            server = self._server_row(s, key)
            if server is None:
                if server_name:
                    raise NoSuchServer(f"User {user_name!r} has no server named {server_name!r}.")
                return True
            if not ServerStatus.of(server).active:
                if remove:
                    s.delete(server)
                    s.commit()
            else:
                server = None
        if server is not None:  # not running: nothing to stop
            if remove:
                await self._delete_forever(key)
            return True
        if remove:
            self._remove_after_stop.add(key)
        done, _ = await asyncio.wait({self._begin_stop(key)}, timeout=wait)
        return bool(done)

    def _begin_stop(self, key: Key) -> asyncio.Task[None]:
        running = self._stops.get(key)
        if running is not None and not running.done():
            return running
        spawning = self._spawns.get(key)
        if spawning is not None and not spawning.done:
            spawning.task.cancel()
        with self.db() as s:
            server = self._server_row(s, key)
            if server is not None:
                server.pending = ServerStatus.STOPPING.pending
                s.commit()
        task = self._stops[key] = asyncio.create_task(self._stop(key))
        return task

    async def _delete_forever(self, key: Key) -> None:
        """The spawner's clean-up of a deleted server (its home volume); failures are logged."""
        spawner = self.spawner_factory(self._request(key[0], key[1], "", {}))
        try:
            await spawner.delete_forever()
        except Exception:  # noqa: BLE001 - the deletion goes on; say what was left behind
            log.exception("could not remove the stored data of %s/%s", *key)

    async def _stop(self, key: Key) -> None:
        spawner = self._spawners.pop(key, None)
        with self.db() as s:
            row = self._server_row(s, key)
            image = (row.state or {}).get("image") or row.image if row is not None else None
        audit.record("server.stopped", user=key[0], server=key[1], image=image)
        old = self._spawns.get(key)
        if old is not None and old.done:
            # Its events describe a server that is going away; a new start begins a new log.
            del self._spawns[key]
        try:
            try:
                await self.routes.delete(*key)
            except ProxyError:
                log.warning("could not remove the route of %s/%s", *key)
            if spawner is None:
                spawner = self._spawner_from_db(key)
            if spawner is not None:
                await spawner.stop()
        finally:
            removed = key in self._remove_after_stop
            with self.db() as s:
                server = self._server_row(s, key)
                if server is not None:
                    if removed:
                        s.delete(server)
                    else:
                        _mark_stopped(server)
                    s.commit()
            self._remove_after_stop.discard(key)
            self.refresh_gauges()
        if removed:
            await self._delete_forever(key)

    def _spawner_from_db(self, key: Key) -> Spawner | None:
        with self.db() as s:
            server = self._server_row(s, key)
            if server is None or server.api_token is None:
                return None
            spawner = self.spawner_factory(
                self._request(key[0], key[1], server.api_token, server.user_options or {})
            )
            spawner.load_state(server.state or {})
            return spawner

    async def delete_user(self, user_name: str) -> None:
        """Stop every server of the user, remove what outlives them (home volumes), then
        forget the user (servers and tokens go with it)."""
        with self.db() as s:
            servers = _user(s, user_name).servers
            names = [srv.name for srv in servers if ServerStatus.of(srv).active]
            every = [srv.name for srv in servers]
        for server_name in names:
            await self.stop(user_name, server_name)
        for server_name in dict.fromkeys(["", *every]):
            await self._delete_forever((user_name, server_name))
        with self.db() as s:
            user = s.scalars(select(User).where(User.name == user_name)).first()
            if user is not None:
                s.delete(user)
                s.commit()

    # -- restart --------------------------------------------------------------

    async def reconcile(self) -> dict[str, int]:
        """After a (re)start: keep servers that still run (restore routes), forget dead ones."""
        counts = {"running": 0, "stopped": 0}
        with self.db() as s:
            rows = [
                (
                    srv.user.name,
                    srv.name,
                    srv.api_token,
                    srv.url,
                    srv.state or {},
                    srv.user_options or {},
                    ServerStatus.of(srv),
                )
                for srv in s.scalars(select(Server).where(active()))
            ]
        for user_name, name, token, target, state, options, status in rows:
            key = (user_name, name)
            spawner = self.spawner_factory(self._request(user_name, name, token or "", options))
            spawner.load_state(state)
            try:
                exit_status = await spawner.poll()
            except Exception:
                log.exception("polling %s/%s", *key)
                exit_status = 1
            if exit_status is None and status is ServerStatus.RUNNING and target and token:
                self._spawners[key] = spawner
                try:
                    await self.routes.add(RoutedServer(user_name, name, target, token))
                except ProxyError:
                    log.warning("could not restore the route of %s/%s", *key)
                counts["running"] += 1
                continue
            reason = None
            if exit_status is None:
                # Half-started when the hub stopped: finish the job by stopping it.
                try:
                    await spawner.stop()
                except Exception:
                    log.exception("stopping %s/%s", *key)
            elif status is ServerStatus.RUNNING:
                reason = await self._ended_on_its_own(key, spawner, exit_status)
            try:
                await self.routes.delete(user_name, name)
            except ProxyError:
                pass
            with self.db() as s:
                server = self._server_row(s, key)
                if server is not None:
                    _mark_stopped(server)
                    server.last_error = reason
                    s.commit()
            counts["stopped"] += 1
        counts["leftovers_removed"] = await self._sweep_leftovers()
        self.refresh_gauges()
        return counts

    async def _ended_on_its_own(self, key: Key, spawner: Spawner, exit_status: int) -> str:
        """Why a server that should be running has ended; its remains are removed."""
        try:
            detail = await spawner.exit_reason()
        except Exception:  # noqa: BLE001 - the reason is a courtesy; the clean-up must go on
            detail = ""
        reason = f"The server stopped on its own ({detail or f'exit status {exit_status}'})."
        log.warning("%s/%s: %s", *key, reason)
        self._failures[key] = reason
        try:
            await spawner.stop()  # removes the ended container (its home volume stays)
        except Exception:
            log.exception("removing the ended server %s/%s", *key)
        return reason

    def _busy(self, key: Key) -> bool:
        """A start or a stop of this server is under way (it is theirs to settle)."""
        stop = self._stops.get(key)
        spawn = self._spawns.get(key)
        return (stop is not None and not stop.done()) or (spawn is not None and not spawn.done)

    async def check_servers(self) -> list[str]:
        """Find running servers that ended on their own (out of memory, engine restarted,
        killed); mark them stopped with why, drop their routes. Returns ``user/server``."""
        with self.db() as s:
            rows = [(srv.user.name, srv.name) for srv in
                    s.scalars(select(Server).where(status_is(ServerStatus.RUNNING)))]
        ended = []
        for key in rows:
            if self._busy(key):
                continue
            spawner = self._spawners.get(key) or self._spawner_from_db(key)
            if spawner is None:
                continue
            try:
                exit_status = await spawner.poll()
            except Exception:  # noqa: BLE001 - an engine hiccup is not a dead server
                log.warning("could not poll %s/%s", *key, exc_info=True)
                continue
            if exit_status is None or self._busy(key):
                continue  # alive, or a stop/start began while it was polled
            reason = await self._ended_on_its_own(key, spawner, exit_status)
            try:
                await self.routes.delete(*key)
            except ProxyError:
                log.warning("could not remove the route of %s/%s", *key)
            with self.db() as s:
                server = self._server_row(s, key)
                if server is not None and ServerStatus.of(server) is ServerStatus.RUNNING:
                    _mark_stopped(server)
                    server.last_error = reason
                    s.commit()
            self._spawners.pop(key, None)
            ended.append(f"{key[0]}/{key[1]}")
        if ended:
            self.refresh_gauges()
        return ended

    async def _sweep_leftovers(self) -> int:
        """Servers a hub killed mid-start left behind, unknown to the database, are removed
        (they would run unseen until someone noticed); how many."""
        sweep = getattr(self.spawner_factory, "sweep", None)
        if sweep is None:
            return 0
        with self.db() as s:
            known = {(srv.user.name, srv.name) for srv in s.scalars(select(Server).where(active()))}
        try:
            removed: list[str] = await anyio.to_thread.run_sync(sweep, known)
        except Exception:
            log.exception("looking for servers left behind by an earlier run failed")
            return 0
        for name in removed:
            log.warning("removed %s: a server left running by an earlier run that this hub "
                        "has no record of", name)
        return len(removed)

    async def check_routes(self, routes: dict[str, dict[str, Any]]) -> int:
        """Re-add routes the proxy lost (e.g. it restarted on its own); returns how many."""
        with self.db() as s:
            running = [
                RoutedServer(srv.user.name, srv.name, srv.url, srv.api_token)
                for srv in s.scalars(select(Server).where(status_is(ServerStatus.RUNNING)))
                if srv.url and srv.api_token
            ]
        return await self.routes.restore(routes, running)

    async def stop_all(self, timeout: float) -> int:
        """Stop every server of this hub at once (hub exit with ``cleanup_servers``);
        waits up to ``timeout`` s and returns how many were stopped."""
        with self.db() as s:
            keys = [(srv.user.name, srv.name) for srv in s.scalars(select(Server).where(active()))]
        keys.extend(key for key, spawn in self._spawns.items() if not spawn.done and key not in keys)
        if not keys:
            return 0
        log.info("stopping %d server(s)", len(keys))
        tasks = {self._begin_stop(key) for key in keys}
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        if pending:
            log.warning("%d server(s) were still stopping after %.0f s", len(pending), timeout)
        return len(done)

    async def shutdown(self) -> None:
        """Hub exit: cancel starts in flight but leave running servers alone."""
        for spawn in self._spawns.values():
            if not spawn.done:
                spawn.task.cancel()
        for task in self._stops.values():
            if not task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(task), 10)
                except Exception:  # exiting anyway: say what was left behind
                    log.warning("a server was still stopping when the hub exited", exc_info=True)


async def _forward_progress(spawner: Spawner, events: EventLog[SpawnEvent]) -> None:
    """Pass the spawner's own progress on, between "requested" (0) and "started" (70)."""
    try:
        async for event in spawner.progress():
            if isinstance(event, ProgressEvent):
                events.append(
                    SpawnEvent(progress=max(1, min(event.progress, 69)), message=event.message)
                )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.debug("spawner progress failed", exc_info=True)


async def _one(event: SpawnEvent) -> AsyncIterator[SpawnEvent]:
    yield event


def _user(s: Session, name: str) -> User:
    user = s.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise NoSuchUser(f"No such user: {name!r}.")
    return user


def _requested_image(options: UserOptions) -> str | None:
    image = options.get("image")
    return image if isinstance(image, str) else None


def _mark_stopped(server: Server) -> None:
    session = object_session(server)
    if session is not None and server.api_token is not None:
        forget_server_client(session, server.user, server.name)
    server.pending = None
    server.started = None
    server.url = None
    server.state = {}
    server.api_token = None
