"""``NginxProxy``: the ``Proxy`` contract on nginx, for deployments that outgrow one Python process.

nginx has no route API, so this client keeps the routes itself in ``routes.json`` in
nginx's configuration directory, writes them out as nginx ``location`` blocks (one
keep-alive ``upstream`` per route) and reloads nginx (``SIGHUP``, or the operator's
``reload_command``). A change counts as done only once nginx serves the new
generation number on its status server (the hub's ``api_url``), so a user sent to
``/user/alice/`` right after ``add_route`` never meets the old configuration.

Edge authentication is nginx's ``auth_request`` against the hub's
``/hub/api/proxy/authorize``, the same question the built-in proxy asks; activity
(``last_activity``) comes from an access log of the routes, read on each
``get_all_routes``. See docs/proxy.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from bindery.hub.proxy.base import (
    Proxy,
    ProxyError,
    ProxyOptions,
    path_to_routespec,
    routespec_to_path,
)
from bindery.hub.proxy.nginx_config import (
    GENERATION_PATH,
    check_route_path,
    parse_target,
    render_generation,
    render_routes_http,
    render_routes_server,
)

#: The activity log is started afresh once it is this large (it only needs recent lines).
ACTIVITY_LOG_LIMIT = 8 * 1024 * 1024


def default_config_dir(api_port: int) -> Path:
    """Where nginx's files go when ``config_dir`` is not set: per user and per status port."""
    return Path(tempfile.gettempdir()) / f"bindery-nginx-{os.getuid()}-{api_port}"


class NginxProxyOptions(ProxyOptions):
    """``[hub.proxy.client_options]`` of the nginx client."""

    #: The directory holding nginx.conf, the route files and routes.json
    #: (default: ``$TMPDIR/bindery-nginx-<uid>-<api port>``).
    config_dir: str = ""
    #: Command that makes a running nginx re-read its files; empty: SIGHUP to the pid in
    #: ``<config_dir>/nginx.pid`` (the nginx the hub started). E.g. ``["nginx", "-s", "reload"]``.
    reload_command: list[str] = Field(default_factory=list)
    #: Seconds nginx may take to serve a new configuration before the change counts as failed.
    reload_timeout: float = Field(default=10.0, gt=0)


class RouteFiles:
    """``routes.json`` and the two route files rendered from it, written atomically."""

    def __init__(self, config_dir: Path) -> None:
        self.dir = config_dir
        self.state_file = config_dir / "routes.json"

    def load(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {"generation": 0, "routes": {}}
        except (OSError, ValueError) as err:
            raise ProxyError(f"The nginx route state {self.state_file} cannot be read: {err}") from err
        state.setdefault("generation", 0)
        state.setdefault("routes", {})
        return state

    def write(self, state: dict[str, Any]) -> None:
        """Render first (a bad route fails here, before anything changes), then replace files."""
        http = render_routes_http(state["routes"], state["generation"])
        server = render_routes_server(state["routes"], self.dir)
        for name, text in (("routes-http.conf", http), ("routes-server.conf", server),
                           ("routes-generation.conf", render_generation(state["generation"])),
                           ("routes.json", json.dumps(state, indent=1, sort_keys=True))):
            _write_private(self.dir / name, text)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` so readers see the old or the new file, never half; owner-only (tokens)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, path)


class NginxProxy(Proxy):
    """Routes as nginx configuration, changed by rewriting files and reloading nginx."""

    name: ClassVar[str] = "nginx"
    options_model: ClassVar[type[ProxyOptions]] = NginxProxyOptions

    def __init__(self, options: ProxyOptions) -> None:
        if not isinstance(options, NginxProxyOptions):  # built with the common options only
            options = NginxProxyOptions.model_validate(options.model_dump())
        super().__init__(options)
        self.opts = options
        port = urlsplit(options.api_url).port or 80
        self.config_dir = Path(options.config_dir) if options.config_dir else default_config_dir(port)
        self.files = RouteFiles(self.config_dir)
        self.api_url = options.api_url.rstrip("/")
        self._lock = asyncio.Lock()
        self._http = httpx.AsyncClient(
            trust_env=False, timeout=min(options.timeout, 5.0),
            headers={"Authorization": f"token {options.auth_token}"})
        self._activity: dict[str, float] = {}
        self._log_offset = 0

    # -- changes -----------------------------------------------------------------------

    async def add_route(
        self, routespec: str, target: str, data: dict[str, Any] | None = None
    ) -> None:
        path = check_route_path(routespec_to_path(routespec))
        parse_target(target, f"the target of {routespec}")
        async with self._lock:
            await self._generation()
            state = self.files.load()
            state["routes"][path] = {"target": target, "data": dict(data or {}),
                                     "created": time.time()}
            await self._apply(state)

    async def delete_route(self, routespec: str) -> None:
        path = routespec_to_path(routespec)
        async with self._lock:
            await self._generation()
            state = self.files.load()
            if state["routes"].pop(path, None) is None:
                return
            self._activity.pop(path, None)
            await self._apply(state)

    async def _apply(self, state: dict[str, Any]) -> None:
        state["generation"] = int(state["generation"]) + 1
        if not self.config_dir.is_dir():
            raise ProxyError(f"The nginx configuration directory {self.config_dir} does not exist; "
                             "is nginx running (kind = \"nginx\") and config_dir the same?")
        try:
            self.files.write(state)
        except OSError as err:
            raise ProxyError(f"Cannot write nginx's route files in {self.config_dir}: {err}") from err
        old_workers = self._workers()
        await self._reload()
        await self._wait_for_generation(state["generation"])
        await self._wait_for_old_workers(old_workers)

    def _workers(self) -> set[int]:
        """Worker pids of the nginx whose master is in ``nginx.pid`` (empty when unknown,
        e.g. an operator's nginx this process may not inspect)."""
        try:
            master = int((self.config_dir / "nginx.pid").read_text().strip())
        except (OSError, ValueError):
            return set()
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                found.add(int(entry.name))
        return found

    async def _wait_for_old_workers(self, old: set[int]) -> None:
        """Until every worker of the previous generation stopped accepting connections.

        After a reload, old workers keep accepting on the shared listening socket until
        they have handled the master's quit; a request landing on one meanwhile would be
        routed by the old table (a new user sent to the hub's "not running" page). An old
        worker that accepts no more is gone or titled "... is shutting down" (it may go on
        serving its open connections, WebSockets included).
        """
        deadline = time.monotonic() + self.opts.reload_timeout
        while old and time.monotonic() < deadline:
            old = {pid for pid in old if _accepting(pid)}
            if old:
                await asyncio.sleep(0.01)

    async def _reload(self) -> None:
        if self.opts.reload_command:
            try:
                done = await asyncio.create_subprocess_exec(
                    *self.opts.reload_command,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
                output, _ = await done.communicate()
            except OSError as err:
                raise ProxyError(f"The nginx reload command {self.opts.reload_command} "
                                 f"could not run: {err}") from err
            if done.returncode != 0:
                raise ProxyError(f"The nginx reload command {self.opts.reload_command} failed "
                                 f"({done.returncode}): {output.decode(errors='replace')[-500:]}")
            return
        self._signal(signal.SIGHUP)

    def _signal(self, sig: signal.Signals) -> None:
        pid_file = self.config_dir / "nginx.pid"
        try:
            os.kill(int(pid_file.read_text().strip()), sig)
        except (FileNotFoundError, ValueError, ProcessLookupError) as err:
            raise ProxyError(f"nginx is not running (no live process in {pid_file}); "
                             "start the hub with kind = \"nginx\" or set reload_command.") from err

    async def _generation(self, fresh_connection: bool = False) -> int:
        """The route generation nginx serves; refuses like a route API (token, reachability)."""
        url = f"{self.api_url}{GENERATION_PATH}"
        try:
            answer = await self._http.get(
                url, headers={"Connection": "close"} if fresh_connection else None)
        except httpx.HTTPError as err:
            raise ProxyError(f"nginx's status server at {self.api_url} cannot be reached "
                             f"({type(err).__name__}); is nginx running?") from err
        if answer.status_code == 403:
            raise ProxyError("nginx refused the route-API token (check CONFIGPROXY_AUTH_TOKEN / "
                             "[hub.proxy] auth_token).")
        text = answer.text.strip()
        if answer.status_code != 200 or not text.isdigit():
            raise ProxyError(f"nginx's status server at {url} answered {answer.status_code} "
                             f"{text[:80]!r}, not a route generation.")
        return int(text)

    async def _wait_for_generation(self, generation: int) -> None:
        """Done when nginx answers with the new files; a reload nginx refused never gets there."""
        deadline = time.monotonic() + self.opts.reload_timeout
        seen = "nothing"
        while time.monotonic() < deadline:
            try:
                live = await self._generation(fresh_connection=True)
                seen = str(live)
                if live >= generation:
                    # Workers of the old generation stop accepting a moment after the new
                    # ones answer; give them that moment.
                    await asyncio.sleep(0.05)
                    return
            except ProxyError as err:
                seen = str(err)
            await asyncio.sleep(0.01)
        raise ProxyError(
            f"nginx did not load route generation {generation} within "
            f"{self.opts.reload_timeout:.0f} s (its status server said {seen!r}); "
            f"see {self.config_dir / 'error.log'}: {self._error_log_tail()}")

    def _error_log_tail(self) -> str:
        try:
            return " | ".join((self.config_dir / "error.log").read_text().splitlines()[-3:])
        except OSError:
            return "(no error.log)"

    # -- reading -------------------------------------------------------------------------

    def _read_activity(self) -> None:
        """Fold new lines of nginx's route access log (``<msec> <route> <status>``) in."""
        log_file = self.config_dir / "activity.log"
        try:
            with log_file.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self._log_offset:  # started afresh
                    self._log_offset = 0
                f.seek(self._log_offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n") + 1
        self._log_offset += end
        for line in chunk[:end].decode(errors="replace").splitlines():
            parts = line.split(" ")
            if len(parts) == 3:
                try:
                    moment = float(parts[0])
                except ValueError:
                    continue
                if moment > self._activity.get(parts[1], 0.0):
                    self._activity[parts[1]] = moment
        if self._log_offset > ACTIVITY_LOG_LIMIT and not self.opts.reload_command:
            # Move the log aside and have nginx reopen it (USR1); what it wrote is read already.
            os.replace(log_file, log_file.with_suffix(".log.old"))
            self._log_offset = 0
            try:
                self._signal(signal.SIGUSR1)
            except ProxyError:
                pass

    async def get_all_routes(
        self, inactive_since: datetime | None = None
    ) -> dict[str, dict[str, Any]]:
        async with self._lock:
            await self._generation()
            state = self.files.load()
            self._read_activity()
        if inactive_since is not None and inactive_since.tzinfo is None:
            inactive_since = inactive_since.replace(tzinfo=UTC)
        routes: dict[str, dict[str, Any]] = {}
        for path, entry in state["routes"].items():
            moment = max(float(entry.get("created", 0.0)), self._activity.get(path, 0.0))
            last_activity = datetime.fromtimestamp(moment, UTC) if moment else None
            if inactive_since is not None and last_activity is not None \
                    and last_activity >= inactive_since:
                continue
            spec = path_to_routespec(path)
            routes[spec] = {"routespec": spec, "target": entry["target"],
                            "data": dict(entry.get("data") or {}), "last_activity": last_activity}
        return routes

    async def aclose(self) -> None:
        await self._http.aclose()


def _accepting(pid: int) -> bool:
    """Whether nginx worker ``pid`` still runs and has not begun its graceful exit."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return bool(title) and b"shutting down" not in title
