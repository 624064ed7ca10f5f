"""``bindery serve``: the whole Binder service on one machine, one command.

Three pieces, wired the way mybinder.org wires BinderHub, JupyterHub and
configurable-http-proxy, but without Kubernetes:

- the built-in proxy on the public port (8585): ``/user/`` → users' servers
  (routes added by the hub), ``/hub/`` → the hub, everything else → the binder;
- the hub (anonymous temporary users, Docker spawner, SQLite, idle culler);
- the binder app (launch page, ``/build`` stream), talking to the hub only
  through its REST API with an admin token, as BinderHub does.

:class:`BinderStack` does the wiring so tests and benchmarks run exactly what
users run.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
from pathlib import Path
from typing import Any

import click

from bindery.commands.hub import PROXY_LOG, PROXY_RECORD
from bindery.commands.lifecycle import EmbeddedServer, Signals, serve_app, stop_app
from bindery.commands.options import DATA_DIR_OPTION, LOG_FORMAT_OPTION
from bindery.composition import (
    Settings,
    load_settings,
    make_builder,
    make_engine,
    make_hub,
    resolve_data_dir,
)
from bindery.config import ConfigError
from bindery.hub.auth.settings import AuthSettings
from bindery.hub.db.private_files import private_directory
from bindery.log_setup import configure_logging
from bindery.state_dir import InstanceLock, InstanceRunning

log = logging.getLogger("bindery.binder")

#: Where ``bindery serve`` keeps its state unless told otherwise (``--data-dir``).
SERVE_DATA_DIR = Path.home() / ".local" / "share" / "bindery"

#: The hub's edge-auth endpoint the proxy asks before letting a request reach a server.
EDGE_AUTH_PATH = "/hub/api/proxy/authorize"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def prepare_settings(settings: Settings, port: int | None = None) -> Settings:
    """The settings ``serve`` really runs with: internal ports, paths, hub wiring.

    Returns a copy; the admin token is random per start and only lives in memory.
    """
    s = settings.model_copy(deep=True)
    b, hub = s.binder, s.hub
    if port is not None:
        b.port = port
    # serve's own file names for the hub's state, inside its data directory.
    if hub.db_url == "sqlite:///bindery-hub.sqlite":
        hub.db_url = "sqlite:///hub.sqlite"
    if hub.cookie_secret_file == "bindery-hub-cookie-secret":
        hub.cookie_secret_file = "cookie-secret"
    data = resolve_data_dir(s, default=SERVE_DATA_DIR)
    # The hub database, cookie secret and launch log live here: this account only.
    private_directory(data)
    # Binder sessions are ephemeral: every server goes when serve stops, and homes are
    # not kept unless the settings file asks for it explicitly.
    hub.cleanup_servers = True
    if hub.spawner.kind == "docker" and "persistent_home" not in (hub.spawner.model_extra or {}):
        hub.spawner.persistent_home = False
    # The binder keeps b.public_url as configured: when empty it answers with the address
    # each visitor used (Host header), which stays right when serving on 0.0.0.0.
    hub.public_url = b.public_url.rstrip("/")
    hub.ip, hub.port = b.ip, b.port
    hub.hub_ip = "127.0.0.1"
    hub.hub_port = free_port()
    hub.auth = _binder_visitors_only(hub.auth.with_kind("anonymous"))
    hub.cull.timeout = b.cull_idle_timeout
    hub.cull.max_age = b.cull_max_age
    hub.cull.every = b.cull_every
    hub.cull.temporary_users = True
    for pattern in (f"{s.builder.image_prefix}/*", *b.ready_images):
        if pattern not in hub.spawner.allowed_images:
            hub.spawner.allowed_images.append(pattern)
    hub.proxy.ip, hub.proxy.port = b.ip, b.port
    hub.proxy.api_ip, hub.proxy.api_port = "127.0.0.1", free_port()
    hub.proxy.auth_token = hub.proxy.auth_token or secrets.token_hex(32)
    b.app_port = b.app_port or free_port()
    b.hub_url = f"{hub.hub_url}/hub/"
    b.hub_api_token = b.hub_api_token or secrets.token_hex(32)
    hub.admin_token = b.hub_api_token
    if not b.events_log:
        b.events_log = str(data / "launches.jsonl")
    return s


def _binder_visitors_only(auth: AuthSettings) -> AuthSettings:
    """The anonymous authenticator without login-on-visit: the binder creates each
    visitor's user itself (after its quotas and rate limits), so the public
    ``/hub/login`` must not mint users (security finding 3)."""
    own = {name: getattr(auth, name) for name in type(auth).model_fields}
    return AuthSettings.model_validate({**own, **(auth.model_extra or {}),
                                        "create_on_visit": False})


def _edge_auth_url(hub_url: str) -> str:
    """The hub's edge-auth endpoint.

    The proxy proves who it is with its route-API token in ``X-Bindery-Proxy-Token``,
    so no secret appears in the URL (or in ``ps`` output).
    """
    return f"{hub_url}{EDGE_AUTH_PATH}"


def _connect_host(ip: str) -> str:
    return "127.0.0.1" if ip in ("", "0.0.0.0") else ip


class BinderStack:
    """Proxy + hub + binder app, started and stopped together (``async with``)."""

    def __init__(self, settings: Settings, port: int | None = None, *,
                 json_logs: bool = False) -> None:
        self.settings = prepare_settings(settings, port)
        self.json_logs = json_logs
        self.proxy: Any = None
        self._servers: list[tuple[EmbeddedServer, asyncio.Task[None]]] = []
        self.binder_app: Any = None
        self.hub: Any = None
        self._watch_stop = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """Where to open the service (the configured public URL, else this machine's)."""
        b = self.settings.binder
        return (b.public_url.rstrip("/") or f"http://{_connect_host(b.ip)}:{b.port}") + "/"

    async def __aenter__(self) -> BinderStack:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        from bindery.binder.app import create_app
        from bindery.commands.proxy_watch import keep_proxy_alive
        from bindery.hub.app import build_app
        from bindery.hub.proxy.processes import ProxyProcess

        s = self.settings
        b, hub_settings = s.binder, s.hub
        binder_url = f"http://127.0.0.1:{b.app_port}"
        self.proxy = ProxyProcess(
            port=b.port, api_port=hub_settings.proxy.api_port, ip=b.ip,
            default_target=binder_url, auth_token=hub_settings.proxy.auth_token,
            auth_url=_edge_auth_url(hub_settings.hub_url), log_level="info",
            host_routing=hub_settings.proxy.host_routing,
            login_url=hub_settings.proxy.login_url,
        )
        self.proxy.log_path = Path(s.data_dir) / PROXY_LOG
        self.proxy.json_logs = self.json_logs
        # A proxy that a crashed serve left on this data directory is stopped first
        # (its ports and token were that run's own).
        await asyncio.to_thread(self.proxy.start_or_adopt, Path(b.data_dir) / PROXY_RECORD,
                                token_given=True)
        engine = make_engine(s)  # one engine for the hub's spawners and the binder's builds
        self.hub = make_hub(s, engine)
        await self._serve(build_app(self.hub), hub_settings.hub_ip, hub_settings.hub_port)
        self.binder_app = create_app(b, make_builder(s, engine, public=True),
                                     allow_local_repos=s.allow_local_repos)
        await self._serve(self.binder_app, "127.0.0.1", b.app_port)
        await self._restore_routes()
        self._watch = asyncio.create_task(keep_proxy_alive(
            self.proxy, Path(b.data_dir) / PROXY_RECORD, hub_settings.proxy.check_interval,
            self._watch_stop, self._restore_routes))

    async def _restore_routes(self) -> int:
        """The binder's ``/`` route, then every running server's (after a proxy restart)."""
        b = self.settings.binder
        client = self.proxy.client()
        try:
            await client.add_route("/", f"http://127.0.0.1:{b.app_port}", {"binder": True})
            routes = await client.get_all_routes()
        finally:
            await client.aclose()
        return int(await self.hub.manager.check_routes(routes))

    async def _serve(self, app: Any, host: str, port: int) -> None:
        self._servers.append(await serve_app(app, host, port))

    async def __aexit__(self, *exc: object) -> None:
        # The binder first (its warm pool removes its users through the hub), then the
        # hub (its shutdown stops every server: cleanup_servers), then the proxy.
        self._watch_stop.set()  # first: a proxy stopped below must not be started again
        if self._watch is not None:
            await self._watch
            self._watch = None
        for server, task in reversed(self._servers):
            await stop_app(server, task, timeout=60)
        self._servers.clear()
        if self.proxy is not None:
            await asyncio.to_thread(self.proxy.stop)
            self.proxy = None


async def _run(stack: BinderStack, lock: InstanceLock) -> None:
    signals = Signals("Stopping: servers, hub, proxy...",
                      "servers may still be running; the next start on this data directory "
                      "stops its leftover proxy and finds the servers again.").install()
    async with stack:
        lock.update({"public": stack.url, "hub": stack.settings.hub.hub_url,
                     "proxy_api": stack.settings.hub.proxy.api_url})
        click.echo(f"Bindery is serving at {stack.url}  (Ctrl-C stops everything)")
        click.echo(f"  launch events: {stack.settings.binder.events_log}")
        click.echo(f"  data directory: {stack.settings.data_dir}")
        await signals.stop.wait()
    click.echo("Stopped.")


@click.command("serve")
@click.option("--port", type=int, default=None, help="Public port (default 8585).")
@click.option("--ip", default=None, help="Public address (default 127.0.0.1).")
@click.option("--allow-local-repos", is_flag=True, default=False,
              help="Also launch local paths, file:// URLs and hosts on private networks.")
@DATA_DIR_OPTION
@LOG_FORMAT_OPTION
@click.pass_context
def serve_command(ctx: click.Context, port: int | None, ip: str | None,
                  allow_local_repos: bool, data_dir: str | None, log_format: str | None) -> None:
    """Run the whole Binder service: launch page, builder, hub and proxy."""
    root = ctx.find_root().obj or {}
    data_dir = data_dir or root.get("data_dir")
    try:
        settings = load_settings(root.get("config_file"),
                                 overrides={"data_dir": data_dir} if data_dir else None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if ip:
        settings.binder.ip = ip
    if allow_local_repos:
        settings.allow_local_repos = True
    configure_logging(logging.INFO, "%(asctime)s %(name)s %(message)s",
                      json_format=(log_format or root.get("log_format")) == "json")
    json_logs = (log_format or root.get("log_format")) == "json"
    try:
        stack = BinderStack(settings, port, json_logs=json_logs)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    lock = InstanceLock(Path(stack.settings.data_dir), "bindery serve")
    try:
        lock.acquire()
    except InstanceRunning as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        asyncio.run(_run(stack, lock))
    except OSError as exc:
        raise click.ClickException(f"could not start: {exc}") from exc
    except Exception as exc:
        from bindery.errors import BinderyError

        if isinstance(exc, BinderyError):
            raise click.ClickException(str(exc)) from exc
        raise
    finally:
        lock.release()


