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
import contextlib
import logging
import secrets
import signal
import socket
from collections.abc import Iterator
from typing import Any

import click
import uvicorn

from bindery.composition import Settings, load_settings, make_builder, make_engine, make_hub
from bindery.config import ConfigError
from bindery.hub.auth.settings import AuthSettings
from bindery.hub.db.private_files import private_directory
from bindery.log_setup import configure_logging

log = logging.getLogger("bindery.binder")

#: The hub's edge-auth endpoint the proxy asks before letting a request reach a server.
EDGE_AUTH_PATH = "/hub/api/proxy/authorize"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our own loop: the stack, not each server, owns Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def prepare_settings(settings: Settings, port: int | None = None) -> Settings:
    """The settings ``serve`` really runs with: internal ports, paths, hub wiring.

    Returns a copy; the admin token is random per start and only lives in memory.
    """
    s = settings.model_copy(deep=True)
    b, hub = s.binder, s.hub
    if port is not None:
        b.port = port
    data = b.data_path()
    # The hub database, cookie secret and launch log live here: this account only.
    private_directory(data)
    # The binder keeps b.public_url as configured: when empty it answers with the address
    # each visitor used (Host header), which stays right when serving on 0.0.0.0.
    hub.public_url = b.public_url.rstrip("/")
    hub.ip, hub.port = b.ip, b.port
    hub.hub_ip = "127.0.0.1"
    hub.hub_port = free_port()
    if hub.db_url == "sqlite:///bindery-hub.sqlite":
        hub.db_url = f"sqlite:///{data / 'hub.sqlite'}"
    if hub.cookie_secret_file == "bindery-hub-cookie-secret":
        hub.cookie_secret_file = str(data / "cookie-secret")
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

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = prepare_settings(settings, port)
        self.proxy: Any = None
        self._servers: list[tuple[_EmbeddedServer, asyncio.Task[None]]] = []
        self.binder_app: Any = None
        self.hub: Any = None

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
        from bindery.hub.app import build_app
        from bindery.hub.proxy.processes import ProxyProcess

        s = self.settings
        b, hub_settings = s.binder, s.hub
        binder_url = f"http://127.0.0.1:{b.app_port}"
        self.proxy = ProxyProcess(
            port=b.port, api_port=hub_settings.proxy.api_port, ip=b.ip,
            default_target=binder_url, auth_token=hub_settings.proxy.auth_token,
            auth_url=_edge_auth_url(hub_settings.hub_url),
            host_routing=hub_settings.proxy.host_routing,
            login_url=hub_settings.proxy.login_url,
        )
        await asyncio.to_thread(self.proxy.start)
        engine = make_engine(s)  # one engine for the hub's spawners and the binder's builds
        self.hub = make_hub(s, engine)
        await self._serve(build_app(self.hub), hub_settings.hub_ip, hub_settings.hub_port)
        self.binder_app = create_app(b, make_builder(s, engine, public=True),
                                     allow_local_repos=s.allow_local_repos)
        await self._serve(self.binder_app, "127.0.0.1", b.app_port)
        client = self.proxy.client()
        try:
            await client.add_route("/", binder_url, {"binder": True})
        finally:
            await client.aclose()

    async def _serve(self, app: Any, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=5)
        server = _EmbeddedServer(config)
        task = asyncio.create_task(server.serve())
        self._servers.append((server, task))
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError(f"the server on port {port} stopped at start")
            await asyncio.sleep(0.02)

    async def __aexit__(self, *exc: object) -> None:
        for server, _ in reversed(self._servers):
            server.should_exit = True
        for _, task in reversed(self._servers):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, 30)
        self._servers.clear()
        if self.proxy is not None:
            await asyncio.to_thread(self.proxy.stop)
            self.proxy = None


async def _run(settings: Settings, port: int | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with BinderStack(settings, port) as stack:
        click.echo(f"Bindery is serving at {stack.url}  (Ctrl-C stops everything)")
        click.echo(f"  launch events: {stack.settings.binder.events_log}")
        await stop.wait()
        click.echo("Stopping: servers, hub, proxy...")


@click.command("serve")
@click.option("--port", type=int, default=None, help="Public port (default 8585).")
@click.option("--ip", default=None, help="Public address (default 127.0.0.1).")
@click.option("--allow-local-repos", is_flag=True, default=False,
              help="Also launch local paths, file:// URLs and hosts on private networks.")
@click.pass_context
def serve_command(ctx: click.Context, port: int | None, ip: str | None,
                  allow_local_repos: bool) -> None:
    """Run the whole Binder service: launch page, builder, hub and proxy."""
    config_file = (ctx.obj or {}).get("config_file") if ctx.obj else None
    try:
        settings = load_settings(config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if ip:
        settings.binder.ip = ip
    if allow_local_repos:
        settings.allow_local_repos = True
    configure_logging(logging.INFO, "%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(_run(settings, port))
    except OSError as exc:
        raise click.ClickException(f"could not start: {exc}") from exc
    except Exception as exc:
        from bindery.errors import BinderyError

        if isinstance(exc, BinderyError):
            raise click.ClickException(str(exc)) from exc
        raise


