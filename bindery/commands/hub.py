"""``bindery hub``: run the hub (+ its proxy), make API tokens, set passwords.

    bindery hub                      # = bindery hub run --port 8000
    bindery hub token --admin        # prints a new admin token
    bindery hub passwd alice         # sets alice's password (password authenticator)
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bindery.commands.lifecycle import Signals, serve_app, stop_app
from bindery.commands.options import DATA_DIR_OPTION, LOG_FORMAT_OPTION
from bindery.composition import Settings, load_settings, resolve_data_dir
from bindery.config import ConfigError
from bindery.log_setup import configure_logging
from bindery.plugins import PluginError
from bindery.state_dir import InstanceLock, InstanceRunning

if TYPE_CHECKING:
    from bindery.hub.app import Hub

log = logging.getLogger("bindery.hub")

HUB_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: The proxy this data directory's hub started (pid, ports, token), for the next start.
PROXY_RECORD = "bindery-proxy.json"
#: The proxy's own log (it outlives a crashed hub, so it writes to a file, not our stderr).
PROXY_LOG = "proxy.log"


def _settings(ctx: click.Context, hub_overrides: dict[str, Any] | None = None,
              data_dir: str | None = None) -> Settings:
    """All settings, read once; command-line options win over file and environment.

    The data directory is fixed here (default: the current directory, where
    JupyterHub keeps its files too), so relative state paths resolve inside it.
    """
    root = ctx.find_root().obj or {}
    overrides: dict[str, Any] = {"hub": hub_overrides} if hub_overrides else {}
    chosen = data_dir or root.get("data_dir")
    if chosen:
        overrides["data_dir"] = chosen
    try:
        settings = load_settings(root.get("config_file"), overrides=overrides or None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    resolve_data_dir(settings, default=Path.cwd())
    return settings


def _run_options(func: Any) -> Any:
    for option in reversed([
        click.option("--port", type=click.IntRange(1, 65535), default=None,
                      help="Public port (the proxy listens here) [default: 8000]."),
        click.option("--ip", default=None, help="Public address [default: 127.0.0.1]."),
        click.option("--hub-port", type=click.IntRange(1, 65535), default=None,
                     help="Internal port of the hub app [default: 8081]."),
        click.option("--proxy-api-port", type=click.IntRange(1, 65535), default=None,
                     help="Port of the proxy's route API [default: 8001]."),
        click.option("--db-url", default=None,
                     help="Database URL [default: sqlite:///bindery-hub.sqlite in the data directory]."),
        click.option("--spawner", "spawner_kind", default=None, help="Spawner: docker, local, … [default: docker]."),
        click.option("--authenticator", "auth_kind", default=None,
                     help="Authenticator: an installed name (built-in: password, shared-password, "
                          "anonymous, oidc, github)."),
        DATA_DIR_OPTION,
        click.option("--log-level", default="info", show_default=True,
                     type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False)),
        LOG_FORMAT_OPTION,
    ]):
        func = option(func)
    return func


@click.group("hub", invoke_without_command=True)
@_run_options
@click.pass_context
def hub_group(ctx: click.Context, **options: Any) -> None:
    """Run the multi-user hub (JupyterHub's job): login, one server per user, REST API."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run, **options)


@hub_group.command()
@_run_options
@click.pass_context
def run(ctx: click.Context, port: int | None, ip: str | None, hub_port: int | None,
        proxy_api_port: int | None, db_url: str | None, spawner_kind: str | None,
        auth_kind: str | None, data_dir: str | None, log_level: str,
        log_format: str | None) -> None:
    """Start the proxy (public port) and the hub app (internal port) until Ctrl-C."""
    overrides: dict[str, Any] = {}
    for key, value in (("port", port), ("ip", ip), ("hub_port", hub_port), ("db_url", db_url)):
        if value is not None:
            overrides[key] = value
    if proxy_api_port is not None:
        overrides["proxy"] = {"api_port": proxy_api_port}
    settings = _settings(ctx, overrides, data_dir)
    # A plugin chosen on the command line replaces the file's: that plugin's keys are
    # not typos for the new one, so they are set aside rather than refused.
    try:
        if spawner_kind is not None:
            settings.hub.spawner = settings.hub.spawner.with_kind(spawner_kind)
        if auth_kind is not None:
            settings.hub.auth = settings.hub.auth.with_kind(auth_kind)
    except (ConfigError, PluginError) as exc:
        raise click.ClickException(str(exc)) from exc
    serve(settings, log_level, log_format or (ctx.find_root().obj or {}).get("log_format"))


def serve(all_settings: Settings, log_level: str = "info", log_format: str | None = None) -> None:
    """Run proxy + hub in this process until interrupted (one instance per data directory)."""
    configure_logging(log_level.upper(), HUB_LOG_FORMAT, json_format=log_format == "json")
    lock = InstanceLock(Path(all_settings.hub.data_dir), "bindery hub")
    try:
        lock.acquire()
    except InstanceRunning as err:
        raise click.ClickException(str(err)) from err
    try:
        asyncio.run(_serve(all_settings, log_level, lock, json_logs=log_format == "json"))
    finally:
        lock.release()


async def _serve(all_settings: Settings, log_level: str, lock: InstanceLock, *,
                 json_logs: bool = False) -> None:
    from bindery.commands.proxy_watch import keep_proxy_alive
    from bindery.composition import make_hub
    from bindery.hub.app import build_app
    from bindery.hub.proxy.base import ProxyError
    from bindery.hub.proxy.processes import ProxyProcess, process_from_settings

    settings = all_settings.hub
    keep = not settings.cleanup_servers
    signals = Signals(
        "Stopping: hub" + (" (servers and proxy keep running)" if keep else ", servers, proxy") + "...",
        "servers and the proxy may still be running; the next start on this data directory "
        "finds them again.",
    ).install()
    # The token travels in the settings (the loader maps $CONFIGPROXY_AUTH_TOKEN to it) and
    # reaches the proxy only through the child's environment, never through this process's.
    token_given = bool(settings.proxy.auth_token)
    settings.proxy.port = settings.port
    settings.proxy.ip = settings.ip
    # The proxy proves itself to this endpoint with its route-API token in a header.
    auth_url = f"{settings.hub_url}/hub/api/proxy/authorize"
    try:
        process = process_from_settings(
            settings.proxy, default_target=settings.hub_url,
            auth_url=auth_url if settings.proxy.kind in ("builtin", "nginx") else None,
        )
        if process is not None:
            process.log_path = Path(settings.data_dir) / PROXY_LOG
            if isinstance(process, ProxyProcess):
                process.json_logs = json_logs
                process.log_level = log_level.lower()
            outcome = await asyncio.to_thread(
                process.start_or_adopt, Path(settings.data_dir) / PROXY_RECORD,
                token_given=token_given)
            settings.proxy.auth_token = process.auth_token
            log.info("proxy %s (pid %s) on %s", outcome, process.pid, process.public_url)
    except ProxyError as err:
        raise click.ClickException(str(err)) from err
    stop_proxy = process is not None
    keep_proxy: bool | None = None

    def request_shutdown(servers: bool | None = None, proxy: bool | None = None) -> None:
        """``POST /hub/api/shutdown``: stop as a signal would; ``servers``/``proxy`` override
        ``cleanup_servers`` for this stop (JupyterHub's body, defaults from the config)."""
        nonlocal keep_proxy
        if servers is not None:
            settings.cleanup_servers = servers
        if proxy is not None:
            keep_proxy = not proxy
        signals.stop.set()

    try:
        hub = make_hub(all_settings)
        try:
            app = build_app(hub)
            app.state.request_shutdown = request_shutdown
            server, task = await serve_app(app, settings.hub_ip, settings.hub_port,
                                           log_level.lower())
        except Exception as err:
            raise click.ClickException(str(err)) from err
        lock.update({"public": f"{settings.effective_public_url}/hub/", "hub": settings.hub_url,
                     "proxy_api": settings.proxy.api_url})
        watch_stop = asyncio.Event()
        watch = None
        if process is not None:
            watch = asyncio.create_task(keep_proxy_alive(
                process, Path(settings.data_dir) / PROXY_RECORD, settings.proxy.check_interval,
                watch_stop, lambda: _restore_routes(hub)))
        click.echo(f"Bindery hub at {settings.effective_public_url}/hub/ "
                   f"(hub app on {settings.hub_url})", err=True)
        await signals.stop.wait()
        watch_stop.set()  # first: the proxy stopped below must not be started again
        if watch is not None:
            await watch
        # The hub's lifespan shutdown stops the servers (cleanup_servers) before it returns.
        await stop_app(server, task, timeout=signals.grace)
        keep = not settings.cleanup_servers if keep_proxy is None else keep_proxy
        stop_proxy = stop_proxy and not keep
        if process is not None and keep:
            click.echo(f"The proxy (pid {process.pid}) and servers keep running; the next "
                       "start adopts them.", err=True)
    finally:
        if stop_proxy and process is not None:
            await asyncio.to_thread(process.stop)


async def _restore_routes(hub: Hub) -> int:
    """Every running server's route (and ``/hub/``) on a proxy that started again."""
    if hub.proxy is None:
        return 0
    return await hub.manager.check_routes(await hub.proxy.get_all_routes())


@hub_group.command()
@click.option("--admin", is_flag=True, help="A service token with the 'admin' scope.")
@click.option("--user", "user_name", default=None, help="Make the token for this user (created if missing).")
@click.option("--service", default="cli", show_default=True, help="Name of the service owning the token.")
@click.option("--scopes", "scopes", multiple=True,
              help="Scopes (repeat or space-separate), e.g. --scopes 'list:users read:servers'.")
@click.option("--note", default="", help="Shown in token lists to recognise it.")
@click.option("--expires-in", type=click.FloatRange(min=1), default=None, help="Seconds until it expires.")
@click.option("--db-url", default=None, help="Database URL (default: from settings).")
@DATA_DIR_OPTION
@click.pass_context
def token(ctx: click.Context, admin: bool, user_name: str | None, service: str, scopes: tuple[str, ...],
          note: str, expires_in: float | None, db_url: str | None, data_dir: str | None) -> None:
    """Print a new API token (only its hash is stored: keep it somewhere safe)."""
    from sqlalchemy import select

    from bindery.hub.db.engine import open_database
    from bindery.hub.db.models import User, utcnow
    from bindery.hub.names import InvalidName, check_name
    from bindery.hub.scopes import ScopeError, check_scopes
    from bindery.hub.tokens import create_token

    settings = _settings(ctx, data_dir=data_dir).hub
    wanted = [s for item in scopes for s in item.split()]
    if admin:
        wanted = ["admin", *wanted]
    if not wanted:
        wanted = ["self"] if user_name else []
    if not wanted:
        raise click.UsageError("Say what the token may do: --admin, --user NAME, or --scopes ...")
    try:
        wanted = check_scopes(wanted)
        if user_name:
            user_name = check_name(user_name)
    except (ScopeError, InvalidName) as err:
        raise click.BadParameter(str(err)) from err
    engine, db = open_database(db_url or settings.db_url)
    try:
        with db() as s:
            user = None
            if user_name:
                user = s.scalars(select(User).where(User.name == user_name)).first()
                if user is None:
                    user = User(name=user_name, admin=False, kind="user", created=utcnow())
                    s.add(user)
            clear, _ = create_token(s, user=user, service=service, scopes=wanted,
                                    note=note or "created with 'bindery hub token'", expires_in=expires_in)
            s.commit()
    finally:
        engine.dispose()
    click.echo(clear)


@hub_group.command("passwd")
@click.argument("name")
@click.option("--db-url", default=None, help="Hub database URL (default: [hub] db_url from the settings).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="BINDERY_NEW_PASSWORD",
    help="The new password (asked for when not given; or $BINDERY_NEW_PASSWORD for scripts).",
)
@DATA_DIR_OPTION
@click.pass_context
def passwd(ctx: click.Context, name: str, db_url: str | None, password: str,
           data_dir: str | None) -> None:
    """Set (or reset) the password of user NAME for the password authenticator."""
    from bindery.errors import BinderyError
    from bindery.hub.auth.names import normalize_username
    from bindery.hub.auth.password import DEFAULT_MIN_PASSWORD_LENGTH, PasswordOptions
    from bindery.hub.auth.password_store import set_password_cli
    from bindery.hub.db.private_files import protect_sqlite
    from bindery.hub.sessions import end_sessions_in_database

    settings = _settings(ctx, data_dir=data_dir).hub
    options = settings.auth.options
    min_length = (options.min_password_length if isinstance(options, PasswordOptions)
                  else DEFAULT_MIN_PASSWORD_LENGTH)
    url = db_url or settings.db_url
    try:
        protect_sqlite(url)  # a database this command creates is private too
        set_password_cli(url, name, password, min_length=min_length)
    except BinderyError as error:
        raise click.ClickException(str(error)) from None
    # A new password ends every login made with the old one (JupyterHub does the same).
    ended = end_sessions_in_database(url, normalize_username(name))
    click.echo(f"Password set for {normalize_username(name)}"
               + (f"; {ended} login(s) ended." if ended else "."))
