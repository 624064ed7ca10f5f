"""Running a proxy as a child process of the hub: the built-in one or configurable-http-proxy.

    async with ProxyProcess(auth_url="http://127.0.0.1:8081/hub/api/proxy/authorize") as proc:
        proxy = proc.client()
        await proxy.add_route("/user/alice/", "http://127.0.0.1:9001",
                              {"user": "alice", "server_token": token})

The route-API token reaches the child through its own environment
(``CONFIGPROXY_AUTH_TOKEN``, as CHP expects), never through the hub's.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self, TypedDict, Unpack

import anyio
import httpx

from bindery.hub.proxy.base import ProxyError, ProxyOptions
from bindery.hub.proxy.rest import RestProxy
from bindery.hub.proxy.settings import HubProxySettings
from bindery.proxy.protocol import AUTH_TOKEN_ENV


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ProcessArgs(TypedDict, total=False):
    """Where a proxy process listens and how it is reached; every key is optional."""

    port: int | None
    api_port: int | None
    ip: str
    api_ip: str
    default_target: str | None
    auth_token: str | None
    ready_timeout: float


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
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as this object

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
        return RestProxy(ProxyOptions(api_url=self.api_url, auth_token=self.auth_token))

    def log_tail(self, lines: int = 20) -> str:
        self._log.seek(0)
        return b"\n".join(self._log.read().splitlines()[-lines:]).decode(errors="replace")

    def start(self) -> None:
        """Start and block until the route API answers 200 (or raise ``ProxyError``)."""
        # The token goes to the child's environment only (where CHP looks for it).
        env = {**os.environ, AUTH_TOKEN_ENV: self.auth_token}
        self.process = subprocess.Popen(
            self.command(), env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + self.ready_timeout
        headers = {"Authorization": f"token {self.auth_token}"}
        with httpx.Client(trust_env=False, timeout=1.0) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ProxyError(
                        f"The {self.name} exited at start (code {self.process.returncode}):\n"
                        f"{self.log_tail()}"
                    )
                try:
                    if http.get(f"{self.api_url}/api/routes", headers=headers).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise ProxyError(
            f"The {self.name} did not answer within {self.ready_timeout:.0f} s:\n{self.log_tail()}"
        )

    def _shared_flags(self, log_level: str) -> list[str]:
        """The flags both proxies take alike: they share CHP's command line."""
        flags = ["--ip", self.ip, "--port", str(self.port), "--api-ip", self.api_ip,
                 "--api-port", str(self.api_port), "--log-level", log_level]
        if self.default_target:
            flags += ["--default-target", self.default_target]
        return flags

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await anyio.to_thread.run_sync(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await anyio.to_thread.run_sync(self.stop)


class ProxyProcess(_ProcessBase):
    """The built-in proxy (``python -m bindery.proxy``) as a subprocess."""

    name = "built-in proxy"

    def __init__(
        self,
        *,
        auth_url: str | None = None,
        log_level: str = "warning",
        host_routing: bool = False,
        login_url: str | None = None,
        **kwargs: Unpack[ProcessArgs],
    ) -> None:
        super().__init__(**kwargs)
        self.auth_url = auth_url
        self.log_level = log_level
        self.host_routing = host_routing
        self.login_url = login_url

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "bindery.proxy", *self._shared_flags(self.log_level)]
        if self.auth_url:
            cmd += ["--auth-url", self.auth_url]
        if self.host_routing:
            cmd.append("--host-routing")
        if self.login_url:
            cmd += ["--login-url", self.login_url]
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
        raise ProxyError(
            "npm is not installed; install Node.js and npm to use configurable-http-proxy."
        )
    prefix.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "configurable-http-proxy"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 or not find_chp(prefix):
        raise ProxyError(f"npm could not install configurable-http-proxy:\n{done.stderr[-2000:]}")
    return str(find_chp(prefix))


class ChpProcess(_ProcessBase):
    """configurable-http-proxy (the real one, from npm) as a subprocess."""

    name = "configurable-http-proxy"

    def __init__(
        self,
        *,
        executable: str | None = None,
        log_level: str = "warn",
        **kwargs: Unpack[ProcessArgs],
    ) -> None:
        super().__init__(**kwargs)
        found = executable or find_chp()
        if found is None:
            raise ProxyError("configurable-http-proxy is not installed (see install_chp()).")
        self.executable = found
        self.log_level = log_level

    def command(self) -> list[str]:
        return [self.executable, *self._shared_flags(self.log_level)]


def process_from_settings(
    settings: HubProxySettings,
    *,
    ip: str | None = None,
    port: int | None = None,
    default_target: str | None = None,
    auth_url: str | None = None,
    host_routing: bool | None = None,
    login_url: str | None = None,
) -> ProxyProcess | ChpProcess | None:
    """The process to start for ``settings.kind`` (``None`` for ``external``: nothing to start).

    Keyword arguments override the settings (the hub passes its own public address,
    its internal URL as default target and its authorize endpoint).
    """
    if settings.kind == "external":
        return None
    common: ProcessArgs = {
        "ip": ip or settings.ip,
        "port": port if port is not None else settings.port,
        "api_ip": settings.api_ip,
        "api_port": settings.api_port,
        "default_target": default_target or settings.default_target,
        "auth_token": settings.auth_token or None,
    }
    if settings.kind == "chp":
        if auth_url or settings.auth_url:
            raise ProxyError(
                "configurable-http-proxy cannot do edge authentication; "
                'use the built-in proxy (kind = "builtin") or drop auth_url.'
            )
        if host_routing or settings.host_routing:
            raise ProxyError(
                "Users' servers on their own subdomains ([hub] subdomain_host) need the "
                'built-in proxy (kind = "builtin"): it checks logins on every host.'
            )
        return ChpProcess(**common)
    return ProxyProcess(
        **common, auth_url=auth_url or settings.auth_url,
        host_routing=settings.host_routing if host_routing is None else host_routing,
        login_url=login_url or (settings.login_url if settings.login_url != "/hub/login" else None),
    )
