"""Hub fixtures: an in-process hub (API tests) and a real ``bindery hub`` process (end-to-end).

Both use the real local-process spawner (a real jupyter_server from the venv), a real
SQLite database in a temp dir, and, for the process fixture, the real built-in proxy.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from bindery.hub.app import Hub, build_app
from bindery.hub.settings import HubSettings
from bindery.hub.spawners.factory import spawner_factory
from bindery.hub.tokens import create_token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(tmp_path: Path, **overrides: Any) -> HubSettings:
    settings = HubSettings(
        db_url=f"sqlite:///{tmp_path / 'hub.sqlite'}",
        cookie_secret=secrets.token_hex(32),
        slow_spawn_timeout=30,
        **overrides,
    )
    settings.spawner.kind = "local"
    settings.spawner.local_root_dir = tmp_path / "users"
    settings.spawner.http_timeout = 60
    return settings


@pytest.fixture
def make_hub_settings():
    """``make_settings`` as a fixture, for tests that build their own hub."""
    return make_settings


@dataclass
class ApiHub:
    """An in-process hub (no proxy) driven through Starlette's TestClient."""

    hub: Hub
    client: TestClient
    admin_token: str

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"token {token or self.admin_token}"}

    def token_for(self, user: str, scopes: list[str] | None = None, admin: bool = False,
                  expires_in: float | None = None) -> str:
        self.hub.get_or_create_user(user, admin=admin)
        from sqlalchemy import select

        from bindery.hub.db.models import User

        with self.hub.db() as s:
            row = s.scalars(select(User).where(User.name == user)).one()
            token, _ = create_token(s, user=row, scopes=scopes, expires_in=expires_in)
            s.commit()
        return token

    def service_token(self, scopes: list[str]) -> str:
        with self.hub.db() as s:
            token, _ = create_token(s, service="test-service", scopes=scopes)
            s.commit()
        return token


@pytest.fixture
def api_hub(tmp_path: Path) -> Iterator[ApiHub]:
    settings = make_settings(tmp_path)
    hub = Hub(settings, proxy=False, spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    app = build_app(hub)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        with hub.db() as s:
            token, _ = create_token(s, service="test-admin", scopes=["admin"])
            s.commit()
        api = ApiHub(hub, client, token)
        yield api
        # Stop every server the test started (real processes).
        from sqlalchemy import select

        from bindery.hub.db.models import Server
        from bindery.hub.server_state import active

        with hub.db() as s:
            rows = s.scalars(select(Server).where(active()))
            running = [(srv.user.name, srv.name) for srv in rows]
        for user, name in running:
            tail = f"servers/{name}" if name else "server"
            client.delete(f"/hub/api/users/{user}/{tail}", headers=api.headers())


def wait_until_answers(process: subprocess.Popen[bytes], url: str,
                       log_tail: Any, what: str, timeout: float = 60) -> None:
    """Until ``url`` answers 200; fails with the log if ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log_tail()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} did not start:\n{log_tail()}")


def end_process(process: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; waits for the exit."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class HubProcess:
    """``bindery hub`` as a subprocess: built-in proxy on ``port``, hub app on ``hub_port``."""

    tmp_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    hub_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    admin_token: str = field(default_factory=lambda: secrets.token_hex(32))
    proxy_token: str = field(default_factory=lambda: secrets.token_hex(32))
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/hub/api"

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"token {token or self.admin_token}"}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BINDERY_")}
        if self.extra_env.get("BINDERY_HUB__SPAWNER__KIND", "local") == "local":
            # The local spawner's own key; another spawner would refuse it.
            env["BINDERY_HUB__SPAWNER__LOCAL_ROOT_DIR"] = str(self.tmp_path / "users")
        env.update({
            "BINDERY_HUB_ADMIN_TOKEN": self.admin_token,
            "CONFIGPROXY_AUTH_TOKEN": self.proxy_token,
            "BINDERY_HUB__DB_URL": f"sqlite:///{self.tmp_path / 'hub.sqlite'}",
            "BINDERY_HUB__COOKIE_SECRET_FILE": str(self.tmp_path / "cookie-secret"),
            "BINDERY_HUB__SPAWNER__KIND": "local",
            "BINDERY_HUB__ACTIVITY_POLL_INTERVAL": "2",
            **self.extra_env,
        })
        return env

    def login_cookie(self, name: str) -> str:
        """A ``bindery-session`` value for the existing user ``name``, as a login would make:
        a session row in the hub's database, signed with the hub's cookie secret."""
        from sqlalchemy import select

        from bindery.hub.db.engine import open_database
        from bindery.hub.db.models import User
        from bindery.hub.security import SessionSigner
        from bindery.hub.sessions import start_session

        engine, db = open_database(f"sqlite:///{self.tmp_path / 'hub.sqlite'}")
        try:
            with db() as s:
                user = s.scalars(select(User).where(User.name == name)).one()
                key = start_session(s, user, 3600)
                s.commit()
        finally:
            engine.dispose()
        secret = (self.tmp_path / "cookie-secret").read_text().strip()
        return SessionSigner(secret, 3600).dumps(name, key)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run([sys.executable, "-m", "bindery.cli", "hub", *args],
                              env={**self.env(), **(env or {})}, capture_output=True, text=True,
                              timeout=60, cwd=self.tmp_path, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def start(self) -> None:
        self.log_path = self.tmp_path / f"hub-{time.time():.0f}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bindery.cli", "hub", "--port", str(self.port), "--hub-port",
             str(self.hub_port), "--proxy-api-port", str(self.api_port), "--log-level", "info"],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp_path,
        )
        wait_until_answers(self.process, f"{self.api}/health", self.log_tail, "hub")

    def stop(self) -> None:
        if self.process is not None:
            end_process(self.process)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop_all_servers(self) -> None:
        try:
            users = httpx.get(f"{self.api}/users", headers=self.headers(), timeout=10).json()
        except Exception:  # noqa: BLE001 - best-effort cleanup
            return
        for user in users:
            for name in user.get("servers", {}):
                path = f"servers/{name}" if name else "server"
                httpx.delete(f"{self.api}/users/{user['name']}/{path}", headers=self.headers(),
                             timeout=30)


@pytest.fixture
def hub_env() -> dict[str, str]:
    """Extra environment for ``hub_process`` (override in a test module)."""
    return {}


@pytest.fixture
def hub_process(tmp_path: Path, hub_env: dict[str, str]) -> Iterator[HubProcess]:
    hub = HubProcess(tmp_path, extra_env=hub_env)
    hub.start()
    try:
        yield hub
    finally:
        if hub.process is not None:
            hub.stop_all_servers()
        hub.stop()


def page_xsrf(client: Any, path: str = "/hub/home") -> str:
    """The XSRF token a hub page gives its forms (and scripts): the login's, or before a
    login the login form's. No cookie holds it where a script could read it."""
    import re

    page = client.get(path)
    match = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert match, f"{path} has no XSRF field:\n{page.text[:500]}"
    return match.group(1)


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = json.dumps({"path": self.path, "cookie": self.headers.get("Cookie")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def service_url() -> Iterator[str]:
    """A real (tiny) HTTP service on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
