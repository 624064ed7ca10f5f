"""Fixtures for the launch service: git repositories served by ``git daemon`` on
127.0.0.1, the binder app on a real uvicorn server, an event-stream client, and
``fake_hub`` (a stand-in JupyterHub REST API for tests that do not launch servers).

Images built here use the ``bindery-test-binder`` prefix and are removed at the end.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bindery.composition import Settings

PREFIX = "bindery-test-binder"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "PATH": "/usr/bin:/bin"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**GIT_ENV, "HOME": str(cwd)}).stdout.strip()


class GitServer:
    """Bare repositories under ``base`` served read-only by ``git daemon`` on loopback."""

    def __init__(self, base: Path, port: int) -> None:
        self.base = base
        self.port = port
        self.counter = 0

    def publish(self, files: dict[str, str], name: str | None = None) -> str:
        """Commit ``files`` into a new repository; return its ``git://127.0.0.1`` URL."""
        self.counter += 1
        name = name or f"repo{self.counter}-{time.monotonic_ns()}"
        work = self.base / "work" / name
        work.mkdir(parents=True)
        for rel, text in files.items():
            path = work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if rel.endswith(("postBuild", "start")):
                path.chmod(0o755)
        git(work, "init", "-q", "-b", "main")
        git(work, "add", "-A")
        git(work, "commit", "-qm", "initial")
        bare = self.base / "srv" / f"{name}.git"
        git(self.base, "clone", "-q", "--bare", str(work), str(bare))
        return f"git://127.0.0.1:{self.port}/{name}.git"


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServer]:
    base = tmp_path_factory.mktemp("gitd")
    (base / "srv").mkdir()
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={base / 'srv'}",
         "--listen=127.0.0.1", f"--port={port}", str(base / "srv")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield GitServer(base, port)
    proc.terminate()
    proc.wait(5)


class ServedApp:
    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("app did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def serve() -> Iterator[Callable[..., ServedApp]]:
    """``serve(app)`` runs an ASGI app on a free loopback port until the test ends."""
    running: list[ServedApp] = []

    def _serve(app: Any, port: int | None = None) -> ServedApp:
        served = ServedApp(app, port).__enter__()
        running.append(served)
        return served

    yield _serve
    for served in running:
        served.__exit__()


def read_events(url: str, timeout: float = 600,
                headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Consume a ``/build`` stream as a Binder client does, until ready/failed/end."""
    events: list[dict[str, Any]] = []
    with httpx.stream("GET", url, timeout=timeout, trust_env=False,
                      headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                event = json.loads(line[5:])
                events.append(event)
                if event.get("phase") in ("ready", "failed"):
                    break
    return events


@pytest.fixture(scope="session")
def binder_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = Settings()
    s.builder.image_prefix = PREFIX
    s.builder.work_dir = tmp_path_factory.mktemp("work")
    s.allow_local_repos = True
    s.binder.events_log = str(tmp_path_factory.mktemp("events") / "launches.jsonl")
    s.binder.rate_limit = 0
    return s


@pytest.fixture(scope="session", autouse=True)
def _remove_test_images() -> Iterator[None]:
    yield
    try:
        client = docker.from_env()
        for image in client.images.list():
            for tag in image.tags:
                if tag.startswith(PREFIX + "/"):
                    client.images.remove(tag, force=True)
    except Exception:  # noqa: BLE001 - cleanup must not fail the run
        pass


class FakeHub:
    """``fake_hub``: a stand-in for the hub's REST API (users, server, progress, tokens).

    It starts no servers; the ready event points at ``/user/<name>/``. Used only where
    a real server is not what the test is about (bad input, build_only, sharing).
    """

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.fail_spawn = False
        #: How many more start requests are answered "busy" (429, retry at once).
        self.busy_starts = 0

        async def create(request: Request) -> Response:
            name = request.path_params["name"]
            self.users[name] = {"name": name, "servers": {}, "options": None}
            return JSONResponse(self.users[name], status_code=201)

        async def get(request: Request) -> Response:
            user = self.users.get(request.path_params["name"])
            if user is None:
                return JSONResponse({"message": "no such user"}, status_code=404)
            return JSONResponse({**user, "server": f"/user/{user['name']}/" if user["servers"]
                                 else None, "pending": None})

        async def delete(request: Request) -> Response:
            name = request.path_params["name"]
            self.users.pop(name, None)
            self.deleted.append(name)
            return Response(status_code=204)

        async def start(request: Request) -> Response:
            name = request.path_params["name"]
            if self.busy_starts > 0:
                self.busy_starts -= 1
                return JSONResponse({"message": "too many spawns"}, status_code=429,
                                    headers={"Retry-After": "0"})
            self.users[name]["options"] = await request.json()
            self.users[name]["servers"] = {"": {"ready": True}}
            return Response(status_code=202)

        async def progress(request: Request) -> Response:
            name = request.path_params["name"]

            async def body():
                yield b'data: {"progress": 50, "message": "Starting the container"}\n\n'
                if self.fail_spawn:
                    yield b'data: {"progress": 100, "failed": true, "message": "no room"}\n\n'
                    return
                ready = {"progress": 100, "ready": True, "message": "ready",
                         "url": f"/user/{name}/"}
                yield f"data: {json.dumps(ready)}\n\n".encode()

            return StreamingResponse(body(), media_type="text/event-stream")

        async def token(request: Request) -> Response:
            return JSONResponse({"token": "t-" + request.path_params["name"]}, status_code=201)

        async def users(request: Request) -> Response:
            return JSONResponse(list(self.users.values()))

        async def info(request: Request) -> Response:
            return JSONResponse({"version": "fake"})

        self.app = Starlette(routes=[
            Route("/hub/api/", info),
            Route("/hub/api/users", users),
            Route("/hub/api/users/{name}", create, methods=["POST"]),
            Route("/hub/api/users/{name}", get, methods=["GET"]),
            Route("/hub/api/users/{name}", delete, methods=["DELETE"]),
            Route("/hub/api/users/{name}/server", start, methods=["POST"]),
            Route("/hub/api/users/{name}/server/progress", progress),
            Route("/hub/api/users/{name}/tokens", token, methods=["POST"]),
        ])


@pytest.fixture
def fake_hub(serve: Callable[..., ServedApp]) -> Iterator[tuple[FakeHub, str]]:
    hub = FakeHub()
    served = serve(hub.app)
    yield hub, served.url + "hub/"


class StackThread:
    """A whole ``bindery serve`` stack (BinderStack) in a background thread's event loop."""

    def __init__(self, settings: Settings) -> None:
        import asyncio

        from bindery.commands.serve import BinderStack

        self.stack = BinderStack(settings, port=free_port())
        self.url = self.stack.url
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: Any = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import asyncio

        async def main() -> None:
            self._stop = asyncio.Event()
            try:
                async with self.stack:
                    self._ready.set()
                    await self._stop.wait()
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread
                self._error = exc
                self._ready.set()

        self._loop.run_until_complete(main())

    def start(self) -> StackThread:
        self.thread.start()
        self._ready.wait(120)
        if self._error is not None:
            raise self._error
        return self

    def call(self, coro: Any, timeout: float = 120) -> Any:
        """Run a coroutine in the stack's loop (e.g. hub client calls) and return its result."""
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def service(self) -> Any:
        return self.stack.binder_app.state.service

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(120)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackThread]:
    """``bindery serve`` as users run it: real proxy, real hub with the Docker spawner."""
    s = Settings()
    s.builder.image_prefix = PREFIX
    s.builder.work_dir = tmp_path_factory.mktemp("stack-work")
    s.allow_local_repos = True
    s.binder.data_dir = str(tmp_path_factory.mktemp("stack-data"))
    s.binder.rate_limit = 0
    s.hub.spawner.mem_limit = "512m"
    s.hub.spawner.max_concurrent_spawns = 8
    s.binder.warm_pool_delay = 1
    running = StackThread(s).start()
    try:
        yield running
    finally:
        hub = running.service.hub
        try:
            users = running.call(hub.list_users())
            for user in users:
                if user["name"].startswith("tmp-"):
                    running.call(hub.delete_user(user["name"]))
        except Exception:  # noqa: BLE001 - cleanup
            pass
        running.stop()
        # A warm-pool server may have been started while the users above were removed.
        client = docker.from_env()
        for container in client.containers.list(all=True, filters={"label": "bindery.hub"}):
            if str(container.attrs["Config"]["Image"]).startswith(PREFIX + "/"):
                container.remove(force=True)


@pytest.fixture
def binder(binder_settings, serve, fake_hub):
    """``binder(**overrides)`` → (base URL, app) with the real builder and ``fake_hub``."""
    hub, hub_url = fake_hub

    def _make(allow_local_repos: bool = True, builder_overrides: dict | None = None, **binder):
        settings = binder_settings.model_copy(deep=True)
        settings.allow_local_repos = allow_local_repos
        settings.binder.hub_url = hub_url
        settings.binder.hub_api_token = "secret"
        for key, value in binder.items():
            setattr(settings.binder, key, value)
        for key, value in (builder_overrides or {}).items():
            setattr(settings.builder, key, value)
        from bindery.binder.app import create_app
        from bindery.composition import make_builder

        app = create_app(settings.binder, make_builder(settings, public=True),
                         allow_local_repos=settings.allow_local_repos)
        return serve(app).url, app

    _make.hub = hub
    return _make
