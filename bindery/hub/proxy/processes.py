"""Running a proxy as a child process of the hub: the built-in one or configurable-http-proxy.

    async with ProxyProcess(auth_url="http://127.0.0.1:8081/hub/api/proxy/authorize") as proc:
        proxy = proc.client()
        await proxy.add_route("/user/alice/", "http://127.0.0.1:9001",
                              {"user": "alice", "server_token": token})

The route-API token reaches the child through its own environment
(``CONFIGPROXY_AUTH_TOKEN``, as CHP expects), never through the hub's.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, Self, TypedDict, Unpack

import anyio
import httpx

from bindery.hub.proxy.base import ProxyError, ProxyOptions
from bindery.hub.proxy.rest import RestProxy
from bindery.hub.proxy.settings import HubProxySettings
from bindery.proxy.protocol import AUTH_TOKEN_ENV

log = logging.getLogger("bindery.hub.proxy")

#: What :meth:`_ProcessBase.start_or_adopt` did.
Outcome = Literal["started", "adopted", "replaced"]

if TYPE_CHECKING:  # imported when chosen: nginx_process imports this module
    from bindery.hub.proxy.nginx_process import NginxProcess


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


@dataclass(frozen=True)
class ProxyRecord:
    """The proxy a hub started, written to its data directory (mode 0600: it holds the token).

    After a crash of the hub (``kill -9``) the proxy child lives on, still holding the
    public port; the next start reads this record to find it, check it answers with
    this token, and adopt it (or stop it, when it no longer fits the settings).
    """

    pid: int
    kind: str
    ip: str
    port: int
    api_ip: str
    api_port: int
    auth_token: str
    #: Where it sends unrouted requests and asks who may pass (the hub's address):
    #: a proxy pointing at an old hub address is replaced, not adopted.
    default_target: str = ""
    auth_url: str = ""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle)

    @classmethod
    def load(cls, path: Path) -> ProxyRecord | None:
        try:
            raw = json.loads(path.read_text())
            return cls(int(raw["pid"]), str(raw["kind"]), str(raw["ip"]), int(raw["port"]),
                       str(raw["api_ip"]), int(raw["api_port"]), str(raw["auth_token"]),
                       str(raw.get("default_target") or ""), str(raw.get("auth_url") or ""))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _process_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _looks_like_a_proxy(pid: int) -> bool:
    """Only a process running one of our proxies is ever adopted or stopped by pid."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return b"bindery.proxy" in cmdline or b"configurable-http-proxy" in cmdline


def terminate_pid(pid: int, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` s; returns once the process is gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _process_alive(pid):
                return
            time.sleep(0.05)


def _port_taken(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return True
    return False


def _api_answers(api_url: str, token: str) -> int | None:
    """The status the route API answers ``token`` with, or ``None`` when nothing answers HTTP."""
    try:
        with httpx.Client(trust_env=False, timeout=2.0) as http:
            return http.get(f"{api_url}/api/routes",
                            headers={"Authorization": f"token {token}"}).status_code
    except httpx.HTTPError:
        return None


class _AnswersOurToken(Exception):
    """The route-API port is held by a proxy that accepts our token (internal signal)."""


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
        #: The pid of a proxy adopted from an earlier run (not this process's child).
        self.adopted_pid: int | None = None
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as this
        #: Append the proxy's output here instead of a temporary file (the hub uses its data
        #: directory: an adopted proxy goes on writing there after the hub that started it died).
        self.log_path: Path | None = None
        #: Where :meth:`start_or_adopt` keeps the :class:`ProxyRecord`.
        self.record_path: Path | None = None

    @property
    def public_url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.api_ip}:{self.api_port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready_url(self) -> str:
        """What answers 200 (with the token) once the proxy is up: its route API."""
        return f"{self.api_url}/api/routes"

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
        if self.log_path is not None:
            self._log.close()
            self._log = open(self.log_path, "a+b")  # noqa: SIM115 - lives as long as this object
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
                    if http.get(self.ready_url(), headers=headers).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise ProxyError(
            f"The {self.name} did not answer within {self.ready_timeout:.0f} s:\n{self.log_tail()}"
        )

    @property
    def pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        return self.adopted_pid

    def alive(self) -> bool:
        """Whether the proxy this object started or adopted still runs."""
        if self.process is not None:
            return self.process.poll() is None
        return self.adopted_pid is not None and _process_alive(self.adopted_pid)

    def _record(self) -> ProxyRecord:
        return ProxyRecord(self.pid or 0, self.name, self.ip, self.port, self.api_ip,
                           self.api_port, self.auth_token, self.default_target or "",
                           getattr(self, "auth_url", None) or "")

    def _fits(self, record: ProxyRecord, token_given: bool) -> bool:
        wanted = self._record()
        same_place = (record.kind, record.ip, record.port, record.api_ip, record.api_port,
                      record.default_target, record.auth_url) == (
            wanted.kind, wanted.ip, wanted.port, wanted.api_ip, wanted.api_port,
            wanted.default_target, wanted.auth_url)
        return same_place and (not token_given or record.auth_token == self.auth_token)

    def start_or_adopt(self, record_path: Path, *, token_given: bool) -> Outcome:
        """Adopt the proxy an earlier run left behind, or replace it, or start a fresh one.

        ``token_given``: the route-API token was configured (else the recorded one is
        reused). A recorded proxy that still runs, sits on the same ports and answers
        its token is adopted, routes and open connections included; one that does not
        fit is stopped first. A port held by anything else is an error naming it.
        """
        self.record_path = record_path
        record = ProxyRecord.load(record_path)
        replaced = False
        if record is not None and _process_alive(record.pid) and _looks_like_a_proxy(record.pid):
            api_url = f"http://{record.api_ip}:{record.api_port}"
            if (self._fits(record, token_given)
                    and _api_answers(api_url, record.auth_token) == 200):
                self.auth_token = record.auth_token
                self.adopted_pid = record.pid
                log.info("adopted the %s left running (pid %d) on %s", self.name, record.pid,
                         self.public_url)
                return "adopted"
            log.warning("stopping the %s left running by an earlier start (pid %d): it does not "
                        "match this start's settings or does not answer", self.name, record.pid)
            terminate_pid(record.pid)
            replaced = True
        record_path.unlink(missing_ok=True)
        try:
            self._check_ports_free()
        except _AnswersOurToken:
            # A proxy with this token and no record (the record was removed, the token is
            # configured): JupyterHub uses such a proxy, and so do we; not ours to stop.
            log.warning("a proxy already answers on %s with this hub's token; using it (it "
                        "is not stopped with the hub)", self.api_url)
            return "adopted"
        self.start()
        self._record().save(record_path)
        return "replaced" if replaced else "started"

    def _check_ports_free(self) -> None:
        """A clear error, naming the port and the option, instead of the child's bind error."""
        if _port_taken(self.api_ip, self.api_port):
            answer = _api_answers(self.api_url, self.auth_token)
            if answer == 200:
                raise _AnswersOurToken
            what = ("a route API that refuses this hub's token" if answer in (401, 403)
                    else "another program")
            raise ProxyError(
                f"The proxy's route-API port {self.api_ip}:{self.api_port} is held by {what} "
                "(not a proxy this data directory started). Stop it, or choose another port "
                "(--proxy-api-port, [hub.proxy] api_port)."
            )
        if _port_taken(self.ip, self.port):
            raise ProxyError(
                f"The public port {self.ip}:{self.port} is held by another program. Stop it, or "
                "choose another port (--port)."
            )

    def _shared_flags(self, log_level: str) -> list[str]:
        """The flags both proxies take alike: they share CHP's command line."""
        flags = ["--ip", self.ip, "--port", str(self.port), "--api-ip", self.api_ip,
                 "--api-port", str(self.api_port), "--log-level", log_level]
        if self.default_target:
            flags += ["--default-target", self.default_target]
        return flags

    def stop(self) -> None:
        """Stop the proxy, whether this process started it or adopted it, and forget it."""
        if self.adopted_pid is not None:
            if _looks_like_a_proxy(self.adopted_pid):
                terminate_pid(self.adopted_pid)
            self.adopted_pid = None
        if self.record_path is not None:
            self.record_path.unlink(missing_ok=True)
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
        #: One JSON object per log line (``--log-format json``), with request ids.
        self.json_logs = False

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "bindery.proxy", *self._shared_flags(self.log_level)]
        if self.json_logs:
            cmd += ["--log-format", "json"]
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
) -> ProxyProcess | ChpProcess | NginxProcess | None:
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
    if settings.kind == "nginx":
        from bindery.hub.proxy.nginx_process import NginxProcess

        if host_routing or settings.host_routing:
            raise ProxyError(
                "Users' servers on their own subdomains ([hub] subdomain_host) need the "
                'built-in proxy (kind = "builtin"); the nginx backend routes by path only.'
            )
        return NginxProcess(
            **common, auth_url=auth_url or settings.auth_url,
            config_dir=settings.client_options.get("config_dir") or None,
            login_url=settings.login_url, session_cookie=settings.session_cookie,
            auth_cache_ttl=settings.auth_cache_ttl,
        )
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
