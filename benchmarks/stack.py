"""A whole Bindery stack for the soak and chaos runs: hub + proxy + N user servers, on loopback.

``Stack`` runs ``bindery hub`` (local-process spawner) in a temporary directory; the
hub starts its proxy (built-in or nginx) as its child. User servers are either real
Jupyter servers (``--server jupyter``) or ``lite_server.py``, a tiny HTTP + WebSocket
server that takes the same command-line flags (``--server lite``): light enough for
50 of them on a laptop. Every process this module causes to exist is found by its
pid (recorded, never by name) so the run can clean up after kill -9.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

HERE = Path(__file__).resolve().parent
LITE_SERVER = HERE / "lite_server.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int | None, with_children: bool = False) -> float | None:
    """Resident memory of ``pid`` (plus its children for nginx's workers), in MB."""
    if pid is None:
        return None
    try:
        process = psutil.Process(pid)
        members = [process, *(process.children(recursive=True) if with_children else [])]
        return sum(p.memory_info().rss for p in members) / 2**20
    except psutil.Error:
        return None


class Stack:
    """``bindery hub`` with its proxy, restartable on the same state (ports, database)."""

    def __init__(self, server: str = "lite", proxy: str = "builtin") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bindery-stack-"))
        self.pid_dir = self.dir / "server-pids"
        self.pid_dir.mkdir()
        self.server_kind, self.proxy_kind = server, proxy
        self.port, self.hub_port, self.api_port = free_port(), free_port(), free_port()
        self.token = secrets.token_hex(32)
        env = {k: v for k, v in os.environ.items() if not k.startswith("BINDERY_")}
        env.update({
            "BINDERY_HUB_ADMIN_TOKEN": self.token,
            "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
            "BINDERY_HUB__DB_URL": f"sqlite:///{self.dir / 'hub.sqlite'}",
            "BINDERY_HUB__COOKIE_SECRET_FILE": str(self.dir / "cookie-secret"),
            "BINDERY_HUB__SPAWNER__KIND": "local",
            "BINDERY_HUB__SPAWNER__LOCAL_ROOT_DIR": str(self.dir / "users"),
            "BINDERY_HUB__PROXY__KIND": proxy,
            "BENCH_LITE_PID_DIR": str(self.pid_dir),
        })
        if proxy == "nginx":
            env["BINDERY_HUB__PROXY__CLIENT_OPTIONS__CONFIG_DIR"] = str(self.dir / "nginx")
        if server == "lite":
            env["BINDERY_HUB__SPAWNER__LOCAL_COMMAND"] = json.dumps(
                [sys.executable, str(LITE_SERVER)])
        self.env = env
        self.hub: subprocess.Popen[bytes] | None = None
        self.proxy_pid: int | None = None
        #: Every proxy process seen in this run (a killed hub may leave one behind).
        self.proxy_pids: set[int] = set()
        self.hub_starts = 0

    # -- URLs ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        """The hub's API straight at the hub (not through the proxy, which may be dead)."""
        return f"http://127.0.0.1:{self.hub_port}/hub/api"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def describe_servers(self) -> str:
        if self.server_kind == "lite":
            return ("lite_server.py (aiohttp HTTP + WebSocket echo, started by the hub's local "
                    "spawner with Jupyter's flags)")
        return "real Jupyter servers (the hub's local spawner)"

    # -- processes --------------------------------------------------------------------

    def start_hub(self, timeout: float = 60.0) -> float:
        """Start ``bindery hub``; seconds until its API answers (raises if it never does)."""
        self.hub_starts += 1
        log = open(self.dir / f"hub-{self.hub_starts}.log", "ab")  # noqa: SIM115 - owned by Popen
        t0 = time.monotonic()
        self.hub = subprocess.Popen(
            [sys.executable, "-m", "bindery.cli", "hub", "--port", str(self.port), "--hub-port",
             str(self.hub_port), "--proxy-api-port", str(self.api_port), "--log-level", "warning"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        log.close()
        while time.monotonic() - t0 < timeout:
            if self.hub.poll() is not None:
                raise RuntimeError(f"the hub exited at start ({self.hub.returncode}): "
                                   f"{self.hub_log_tail()}")
            try:
                if httpx.get(f"{self.api}/health", timeout=1, trust_env=False).status_code == 200:
                    self.refresh_proxy_pid()
                    return time.monotonic() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the hub did not answer within {timeout:.0f} s: {self.hub_log_tail()}")

    def hub_log_tail(self, lines: int = 8) -> str:
        path = self.dir / f"hub-{self.hub_starts}.log"
        try:
            return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def refresh_proxy_pid(self) -> int | None:
        """The proxy is whoever listens on the public port (the hub's child or an adopted one)."""
        self.proxy_pid = listener_pid(self.port)
        if self.proxy_pid is not None and self.proxy_kind == "nginx":
            # nginx's workers listen too: the master is the one whose parent is not nginx.
            process = psutil.Process(self.proxy_pid)
            parent = process.parent()
            if parent is not None and "nginx" in parent.name():
                self.proxy_pid = parent.pid
        if self.proxy_pid is not None:
            self.proxy_pids.add(self.proxy_pid)
        return self.proxy_pid

    def server_pids(self) -> list[int]:
        """User-server processes alive now (they record their pid when they start)."""
        alive = []
        for entry in self.pid_dir.iterdir():
            pid = int(entry.name)
            if _is_ours(pid, str(self.dir)):
                alive.append(pid)
        return alive

    def proxy_alive(self) -> bool:
        if self.proxy_pid is None:
            return False
        try:
            return psutil.Process(self.proxy_pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def kill9(self, pid: int | None) -> bool:
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGKILL)
            return True
        except ProcessLookupError:
            return False

    def stop(self) -> None:
        """Stop servers through the API if the hub lives, then every process of this run."""
        if self.hub is not None and self.hub.poll() is None:
            try:
                users = httpx.get(f"{self.api}/users", headers=self.headers, timeout=10,
                                  trust_env=False).json()
                for user in users:
                    if user.get("servers"):
                        httpx.delete(f"{self.api}/users/{user['name']}/server",
                                     headers=self.headers, timeout=30, trust_env=False)
            except (httpx.HTTPError, ValueError):
                pass
            self.hub.send_signal(signal.SIGTERM)
            try:
                self.hub.wait(30)
            except subprocess.TimeoutExpired:
                self.hub.kill()
        for pid in [*self.server_pids(), *self.proxy_pids, *self._nginx_processes()]:
            if psutil.pid_exists(pid):
                try:
                    process = psutil.Process(pid)
                    if pid in self.proxy_pids or _is_ours(pid, str(self.dir)):
                        process.kill()
                except psutil.Error:
                    pass


    def _nginx_processes(self) -> list[int]:
        """nginx processes of this run (workers and cache manager outlive a killed master)."""
        if self.proxy_kind != "nginx":
            return []
        found = []
        for process in psutil.process_iter(["name"]):
            try:
                if (process.info["name"] or "").startswith("nginx") and any(
                        str(self.dir) in f.path for f in process.open_files()):
                    found.append(process.pid)
                    self.proxy_pids.add(process.pid)
            except psutil.Error:
                continue
        return found

    def remove_files(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def listener_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:``port``, if any."""
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port \
                and conn.pid is not None:
            return int(conn.pid)
    return None


def _is_ours(pid: int, marker: str) -> bool:
    """A live process whose command line or environment names this run's directory."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return marker in " ".join(process.cmdline()) or \
            process.environ().get("BENCH_LITE_PID_DIR", "").startswith(marker)
    except psutil.Error:
        return False


def user_token(stack: Stack, http: httpx.Client, user: str) -> str:
    http.post(f"{stack.api}/users/{user}", headers=stack.headers)
    answer = http.post(f"{stack.api}/users/{user}/tokens", json={"note": "bench"},
                       headers=stack.headers)
    answer.raise_for_status()
    return str(answer.json()["token"])


def start_server(stack: Stack, http: httpx.Client, user: str, timeout: float = 120.0) -> str:
    """Start ``user``'s server through the API; ``"ok"`` or the error a user would see."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = http.post(f"{stack.api}/users/{user}/server", headers=stack.headers)
        except httpx.HTTPError as err:
            return f"start: {type(err).__name__}"
        if answer.status_code == 201:
            return "ok"
        if answer.status_code == 429:
            time.sleep(float(answer.headers.get("Retry-After", "1")) / 4)
            continue
        if answer.status_code in (202, 400):  # starting, or already running
            if wait_ready(stack, http, user, deadline):
                return "ok"
            return "start: not ready in time"
        return f"start: HTTP {answer.status_code} {answer.text[:80]}"
    return "start: queue timeout"


def wait_ready(stack: Stack, http: httpx.Client, user: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            model = http.get(f"{stack.api}/users/{user}", headers=stack.headers).json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return True
            if not server:
                return False
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.2)
    return False
