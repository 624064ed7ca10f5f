"""``bindery proxy``: the built-in proxy as its own process, with CHP's option names."""

from __future__ import annotations

import asyncio
import os

import click
from pydantic import ValidationError

from bindery.log_setup import configure_logging
from bindery.proxy.protocol import AUTH_TOKEN_ENV
from bindery.proxy.settings import ProxySettings


def _install_uvloop() -> bool:
    """uvloop roughly doubles requests/s of the relay; fall back silently where it is missing."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


@click.command("proxy")
@click.option("--ip", default="127.0.0.1", show_default=True, help="Public address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Public port."
)
@click.option("--api-ip", default="127.0.0.1", show_default=True, help="Route API address.")
@click.option(
    "--api-port",
    default=None,
    type=click.IntRange(0, 65535),
    help="Route API port (default: public port + 1).",
)
@click.option(
    "--default-target",
    default=None,
    metavar="URL",
    help="Where requests go when no route matches (usually the hub).",
)
@click.option(
    "--auth-url",
    default=None,
    metavar="URL",
    help="Hub endpoint checking who may reach a user's server (edge auth).",
)
@click.option(
    "--host-routing",
    is_flag=True,
    help="Match routes by host too (/<host>/path), as configurable-http-proxy does.",
)
@click.option(
    "--login-url",
    default="/hub/login",
    show_default=True,
    help="Where browsers without a login go (a whole URL when the hub has its own host).",
)
@click.option(
    "--auth-cache-ttl",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds a positive login check is reused.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
)
@click.option("--log-format", default="text", show_default=True, type=click.Choice(["text", "json"]),
              help="Log lines as text or one JSON object each (with the request id).")
@click.option("--no-uvloop", is_flag=True, help="Use the standard asyncio loop.")
def proxy_command(
    ip: str,
    port: int,
    api_ip: str,
    api_port: int | None,
    default_target: str | None,
    auth_url: str | None,
    host_routing: bool,
    login_url: str,
    auth_cache_ttl: float,
    log_level: str,
    log_format: str,
    no_uvloop: bool,
) -> None:
    """Run the built-in reverse proxy (HTTP + WebSocket) with CHP's route API.

    The route-API token is read from $CONFIGPROXY_AUTH_TOKEN, as configurable-http-proxy does.
    """
    # Start-up is the one moment the environment is read; the settings carry the token from here.
    auth_token = os.environ.get(AUTH_TOKEN_ENV, "")
    configure_logging(log_level.upper(), "%(asctime)s %(levelname)s %(name)s: %(message)s",
                      json_format=log_format == "json")
    try:
        settings = ProxySettings(
            ip=ip,
            port=port,
            api_ip=api_ip,
            api_port=port + 1 if api_port is None else api_port,
            default_target=default_target,
            auth_url=auth_url,
            host_routing=host_routing,
            login_url=login_url,
            auth_cache_ttl=auth_cache_ttl,
            auth_token=auth_token,
        )
    except ValidationError as err:
        problems = "; ".join(
            f"--{'-'.join(str(p) for p in e['loc']).replace('_', '-')}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        raise click.UsageError(problems) from err
    if not settings.auth_token:
        click.echo(
            f"warning: ${AUTH_TOKEN_ENV} is not set; the route API accepts anyone.", err=True
        )
    if not no_uvloop:
        _install_uvloop()
    from bindery.proxy.server import run_proxy

    try:
        asyncio.run(run_proxy(settings))
    except OSError as err:
        raise click.ClickException(str(err)) from err
    except KeyboardInterrupt:
        pass
