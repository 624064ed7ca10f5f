"""How the hub drives a proxy: the ``Proxy`` contract, a REST client, and process helpers.

Route specs follow JupyterHub's convention: the hub speaks of ``/user/alice/`` (with
the trailing slash) and ``RestProxy`` translates to CHP's stored form ``/user/alice``.
``RestProxy`` works unchanged against the built-in proxy and configurable-http-proxy.

    async with ProxyProcess(auth_url="http://127.0.0.1:8081/hub/api/proxy/authorize") as proc:
        proxy = proc.client()
        await proxy.add_route("/user/alice/", "http://127.0.0.1:9001",
                              {"user": "alice", "server_token": token})
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import httpx

from bindery.errors import BinderyError
from bindery.hub.proxy.settings import AUTH_TOKEN_ENV, ProxySettings


class ProxyError(BinderyError):
    """The proxy could not be started or reached, or refused a route change."""


def routespec_to_path(routespec: str) -> str:
    """``/user/alice/`` → ``/user/alice`` (CHP's stored form); ``/`` stays ``/``."""
    path = routespec if routespec.startswith("/") else "/" + routespec
    return path.rstrip("/") or "/"


def path_to_routespec(path: str) -> str:
    """``/user/alice`` → ``/user/alice/`` (the hub's form)."""
    return path if path.endswith("/") else path + "/"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class Proxy(ABC):
    """What the hub needs from any proxy. Implement these to add a proxy plug-in.

    ``get_all_routes`` returns ``{routespec: {"routespec", "target", "data",
    "last_activity"}}`` where ``data`` is what was given to ``add_route`` and
    ``last_activity`` a timezone-aware ``datetime`` (or ``None`` if unknown).
    """

    @abstractmethod
    async def add_route(self, routespec: str, target: str, data: dict[str, Any] | None = None) -> None:
        """Send requests under ``routespec`` to ``target``; replaces an existing route."""

    @abstractmethod
    async def delete_route(self, routespec: str) -> None:
        """Remove the route; removing a missing route is not an error."""

    @abstractmethod
    async def get_all_routes(self, inactive_since: datetime | None = None) -> dict[str, dict[str, Any]]:
        """All routes, or only those idle since ``inactive_since``."""

    async def get_route(self, routespec: str) -> dict[str, Any] | None:
        """One route in the same shape as ``get_all_routes`` values, or ``None``."""
        return (await self.get_all_routes()).get(path_to_routespec(routespec_to_path(routespec)))

    async def aclose(self) -> None:
        """Release connections (no-op by default)."""


class RestProxy(Proxy):
    """Talks configurable-http-proxy's REST API (the built-in proxy speaks the same)."""

    def __init__(self, api_url: str, auth_token: str, timeout: float = 10.0) -> None:
        self.api_url = api_url.rstrip("/")
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"token {auth_token}"}, timeout=timeout, trust_env=False,
        )

    @classmethod
    def from_settings(cls, settings: ProxySettings, timeout: float = 10.0) -> "RestProxy":
        """A client for the proxy described by ``settings`` (``api_url`` + ``auth_token``)."""
        return cls(settings.api_url, settings.auth_token, timeout)

    def _url(self, routespec: str) -> str:
        path = routespec_to_path(routespec)
        return f"{self.api_url}/api/routes{'' if path == '/' else path}"

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as err:
            raise ProxyError(f"The proxy's route API at {self.api_url} cannot be reached: {err}") from err
        if response.status_code == 403:
            raise ProxyError("The proxy refused the route API token (check CONFIGPROXY_AUTH_TOKEN).")
        return response

    async def add_route(self, routespec: str, target: str, data: dict[str, Any] | None = None) -> None:
        body = {**(data or {}), "target": target}
        response = await self._call("POST", self._url(routespec), json=body)
        if response.status_code != 201:
            raise ProxyError(f"Adding route {routespec} failed ({response.status_code}): {response.text}")

    async def delete_route(self, routespec: str) -> None:
        response = await self._call("DELETE", self._url(routespec))
        if response.status_code not in (204, 404):
            raise ProxyError(f"Removing route {routespec} failed ({response.status_code}): {response.text}")

    async def get_all_routes(self, inactive_since: datetime | None = None) -> dict[str, dict[str, Any]]:
        params = None
        if inactive_since is not None:
            if inactive_since.tzinfo is None:  # naive = UTC (the hub's DB convention); say so explicitly
                inactive_since = inactive_since.replace(tzinfo=timezone.utc)
            params = {"inactive_since": inactive_since.isoformat()}
        response = await self._call("GET", f"{self.api_url}/api/routes", params=params)
        if response.status_code != 200:
            raise ProxyError(f"Listing routes failed ({response.status_code}): {response.text}")
        routes: dict[str, dict[str, Any]] = {}
        for path, entry in response.json().items():
            entry = dict(entry)
            target = entry.pop("target", None)
            last_activity = _parse_time(entry.pop("last_activity", None))
            routespec = path_to_routespec(path)
            routes[routespec] = {
                "routespec": routespec, "target": target, "data": entry, "last_activity": last_activity,
            }
        return routes

    async def aclose(self) -> None:
        await self._http.aclose()


# -- processes -----------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on ``host``."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _ProcessBase:
    """Start a proxy process, wait until its route API answers, stop it on exit."""

    name = "proxy"

    def __init__(
        self,
        port: int | None = None,
        api_port: int | None = None,
        ip: str = "127.0.0.1",
        api_ip: str = "127.0.0.1",
        default_target: str | None = None,
        auth_token: str | None = None,
        ready_timeout: float = 20.0,
    ) -> None:
        self.ip, self.api_ip = ip, api_ip
        self.port = port or free_port(ip)
        self.api_port = api_port or free_port(api_ip)
        self.default_target = default_target
        self.auth_token = auth_token or secrets.token_hex(32)
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    @property
    def public_url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.api_ip}:{self.api_port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def client(self) -> RestProxy:
        """A ``RestProxy`` for this process's route API (close it with ``aclose``)."""
        return RestProxy(self.api_url, self.auth_token)

    def log_tail(self, lines: int = 20) -> str:
        self._log.seek(0)
        return b"\n".join(self._log.read().splitlines()[-lines:]).decode(errors="replace")

    def start(self) -> None:
        """Start and block until the route API answers 200 (or raise ``ProxyError``)."""
        env = {**os.environ, AUTH_TOKEN_ENV: self.auth_token}
        self.process = subprocess.Popen(self.command(), env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.ready_timeout
        headers = {"Authorization": f"token {self.auth_token}"}
        with httpx.Client(trust_env=False, timeout=1.0) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ProxyError(f"The {self.name} exited at start (code {self.process.returncode}):\n"
                                     f"{self.log_tail()}")
                try:
                    if http.get(f"{self.api_url}/api/routes", headers=headers).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise ProxyError(f"The {self.name} did not answer within {self.ready_timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> "_ProcessBase":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> "_ProcessBase":
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await anyio.to_thread.run_sync(self.stop)


class ProxyProcess(_ProcessBase):
    """The built-in proxy (``python -m bindery.hub.proxy``) as a subprocess."""

    name = "built-in proxy"

    def __init__(self, *args: Any, auth_url: str | None = None, log_level: str = "warning",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.auth_url = auth_url
        self.log_level = log_level

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "bindery.hub.proxy", "--ip", self.ip, "--port", str(self.port),
               "--api-ip", self.api_ip, "--api-port", str(self.api_port), "--log-level", self.log_level]
        if self.default_target:
            cmd += ["--default-target", self.default_target]
        if self.auth_url:
            cmd += ["--auth-url", self.auth_url]
        return cmd


#: Where ``install_chp`` puts configurable-http-proxy by default (installed once, reused).
CHP_CACHE = Path.home() / ".cache" / "bindery-test" / "chp"


def find_chp(prefix: Path = CHP_CACHE) -> str | None:
    """The configurable-http-proxy executable: on PATH or under an npm ``prefix``."""
    local = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    return shutil.which("configurable-http-proxy")


def install_chp(prefix: Path = CHP_CACHE) -> str:
    """Install configurable-http-proxy with npm under ``prefix`` (once) and return its path."""
    found = find_chp(prefix)
    if found:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise ProxyError("npm is not installed; install Node.js and npm to use configurable-http-proxy.")
    prefix.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--prefix", str(prefix), "configurable-http-proxy"],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not find_chp(prefix):
        raise ProxyError(f"npm could not install configurable-http-proxy:\n{done.stderr[-2000:]}")
    return str(find_chp(prefix))


class ChpProcess(_ProcessBase):
    """configurable-http-proxy (the real one, from npm) as a subprocess."""

    name = "configurable-http-proxy"

    def __init__(self, *args: Any, executable: str | None = None, log_level: str = "warn",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        found = executable or find_chp()
        if found is None:
            raise ProxyError("configurable-http-proxy is not installed (see install_chp()).")
        self.executable = found
        self.log_level = log_level

    def command(self) -> list[str]:
        cmd = [self.executable, "--ip", self.ip, "--port", str(self.port), "--api-ip", self.api_ip,
               "--api-port", str(self.api_port), "--log-level", self.log_level]
        if self.default_target:
            cmd += ["--default-target", self.default_target]
        return cmd


def process_from_settings(
    settings: ProxySettings,
    *,
    ip: str | None = None,
    port: int | None = None,
    default_target: str | None = None,
    auth_url: str | None = None,
) -> ProxyProcess | ChpProcess | None:
    """The process to start for ``settings.kind`` (``None`` for ``external``: nothing to start).

    Keyword arguments override the settings (the hub passes its own public address,
    its internal URL as default target and its authorize endpoint).
    """
    if settings.kind == "external":
        return None
    common: dict[str, Any] = dict(
        ip=ip or settings.ip,
        port=port if port is not None else settings.port,
        api_ip=settings.api_ip,
        api_port=settings.api_port,
        default_target=default_target or settings.default_target,
        auth_token=settings.auth_token or None,
    )
    if settings.kind == "chp":
        if auth_url or settings.auth_url:
            raise ProxyError("configurable-http-proxy cannot do edge authentication; "
                             "use the built-in proxy (kind = \"builtin\") or drop auth_url.")
        return ChpProcess(**common)
    return ProxyProcess(**common, auth_url=auth_url or settings.auth_url)
