"""A third-party plugin, installed from its own distribution, used through the normal commands.

``tests/contracts/example_plugin`` is a separate package (its own pyproject.toml and
entry points) installed into the test environment by ``bash scripts/setup.sh --dev``.
Nothing here imports it: it is reached the way a deployment reaches a plugin,

* ``bindery build example:hello`` (the real CLI, the real engine);
* a binder link ``/v2/example/hello/HEAD`` and its ``/build/...`` event stream;
* ``[hub.auth] kind = "example-table"`` with the plugin's own keys in bindery.toml,
  and a person logging in through the hub's login form (a real ``bindery hub``).

Without the distribution these tests fail, saying how to install it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
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

from .support import example_plugin_installed, require_example_plugin

BIN = Path(sys.executable).parent
RUN_ID = secrets.token_hex(4)
#: Every image built here carries this prefix and is removed at the end.
PREFIX = f"bindery-contract-{RUN_ID}"


@pytest.fixture(scope="module", autouse=True)
def _remove_images() -> Iterator[None]:
    yield
    try:
        client = docker.from_env()
        for image in client.images.list():
            for tag in image.tags:
                if tag.startswith(PREFIX):
                    client.images.remove(tag, force=True)
    except Exception:  # noqa: BLE001 - cleanup must not hide the test's own result
        pass


def _environment(tmp_path: Path, config: str = "", **variables: str) -> dict[str, str]:
    """The user's environment with only this test's configuration file and variables."""
    (tmp_path / "bindery.toml").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINDERY_")}
    return {**env, "BINDERY_CONFIG": str(tmp_path / "bindery.toml"), **variables}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- bindery build ----------------------------------------------------------------------


@pytest.mark.engine
@pytest.mark.slow
def test_bindery_build_builds_an_example_repository(tmp_path: Path) -> None:
    require_example_plugin()
    env = _environment(tmp_path, f'[builder]\nimage_prefix = "{PREFIX}-cli"\n'
                                 f'work_dir = "{tmp_path / "work"}"\n'
                                 '[sources.example]\ngreeting = "Bonjour"\n')
    done = subprocess.run([str(BIN / "bindery"), "build", "example:hello"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    image = done.stdout.strip().splitlines()[-1]
    assert image.startswith(f"{PREFIX}-cli/example-hello-")
    labels = docker.from_env().images.get(image).labels
    assert labels["org.bindery.source-kind"] == "example"
    assert labels["org.bindery.source"] == "example:hello"
    # The plugin's own option, from [sources.example], shaped what was built.
    readme = docker.from_env().containers.run(image, ["cat", "README.md"], remove=True)
    assert b"Bonjour, hello!" in readme


def test_a_malformed_example_spec_is_refused_by_the_cli_with_the_plugins_words(tmp_path: Path) -> None:
    require_example_plugin()
    done = subprocess.run([str(BIN / "bindery"), "build", "example:Not_A_Name"],
                          env=_environment(tmp_path), cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "is not an example repository" in done.stderr


# -- a binder link ------------------------------------------------------------------------


class FakeHub:
    """A stand-in for the hub's REST API: users, a server that is at once ready, tokens.

    The launch's last step is the hub's; what this test is about is that the binder
    finds, resolves and builds the plugin's repository.
    """

    def __init__(self) -> None:
        self.started: dict[str, Any] = {}

        async def info(request: Request) -> Response:
            return JSONResponse({"version": "fake"})

        async def users(request: Request) -> Response:
            return JSONResponse([])

        async def create(request: Request) -> Response:
            return JSONResponse({"name": request.path_params["name"]}, status_code=201)

        async def get(request: Request) -> Response:
            name = request.path_params["name"]
            return JSONResponse({"name": name, "servers": {}, "server": None, "pending": None})

        async def delete(request: Request) -> Response:
            return Response(status_code=204)

        async def start(request: Request) -> Response:
            self.started[request.path_params["name"]] = await request.json()
            return Response(status_code=202)

        async def progress(request: Request) -> Response:
            name = request.path_params["name"]
            ready = {"progress": 100, "ready": True, "message": "ready", "url": f"/user/{name}/"}

            async def body() -> Any:
                yield f"data: {json.dumps(ready)}\n\n".encode()

            return StreamingResponse(body(), media_type="text/event-stream")

        async def token(request: Request) -> Response:
            return JSONResponse({"token": "t-" + request.path_params["name"]}, status_code=201)

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


class Served:
    """An ASGI app on a free loopback port, in a thread, until ``close``."""

    def __init__(self, app: Any) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.02)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def binder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, FakeHub]]:
    """The binder as the composition root makes it, with a fake hub behind it."""
    from bindery.binder.app import create_app
    from bindery.composition import load_settings, make_builder

    tmp = tmp_path_factory.mktemp("binder")
    hub = FakeHub()
    served_hub = Served(hub.app)
    (tmp / "bindery.toml").write_text(
        f'[builder]\nimage_prefix = "{PREFIX}-binder"\nwork_dir = "{tmp / "work"}"\n'
        f'[binder]\nhub_url = "{served_hub.url}/hub/"\nhub_api_token = "secret"\n'
        f'rate_limit = 0\nevents_log = "{tmp / "launches.jsonl"}"\n')
    settings = load_settings(tmp / "bindery.toml", environ={})
    app = create_app(settings.binder, make_builder(settings),
                     allow_local_repos=settings.allow_local_repos)
    served = Served(app)
    yield served.url, hub
    served.close()
    served_hub.close()


def test_the_binder_offers_the_plugins_provider(binder: tuple[str, FakeHub]) -> None:
    require_example_plugin()
    url, _ = binder
    providers = httpx.get(f"{url}/api/repoproviders", timeout=30).json()
    example = [p for p in providers if p["id"] == "example"]
    assert example, [p["id"] for p in providers]
    assert example[0]["displayName"] == "Example plugin"
    assert example[0]["repo"]["placeholder"] == "example: hello"
    page = httpx.get(f"{url}/v2/example/hello/HEAD", timeout=30)
    assert page.status_code == 200, page.text[:2000]
    assert "/build/example/hello/HEAD" in page.text
    form = httpx.get(f"{url}/", timeout=30)
    assert "Example plugin" in form.text


def test_a_malformed_example_link_is_explained(binder: tuple[str, FakeHub]) -> None:
    require_example_plugin()
    url, _ = binder
    page = httpx.get(f"{url}/v2/example/Not_A_Name/HEAD", timeout=30)
    assert page.status_code == 400
    assert "is not an example repository" in page.text


@pytest.mark.engine
@pytest.mark.slow
def test_a_binder_link_builds_and_launches_an_example_repository(
        binder: tuple[str, FakeHub]) -> None:
    require_example_plugin()
    url, hub = binder
    events: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{url}/build/example/hello/HEAD", timeout=600,
                      trust_env=False) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
                if events[-1].get("phase") in ("ready", "failed"):
                    break
    phases = [e.get("phase") for e in events]
    assert phases[-1] == "ready", events[-5:]
    assert "building" in phases and "built" in phases, phases
    built = next(e for e in events if e.get("phase") == "built")
    image = built["imageName"]
    assert image.startswith(f"{PREFIX}-binder/example-hello-")
    assert docker.from_env().images.get(image).labels["org.bindery.source-kind"] == "example"
    ready = events[-1]
    assert re.fullmatch(r"example/hello/[0-9a-f]{40}", ready["binder_persistent_request"]
                        .removeprefix("v2/")), ready
    assert [options["image"] for options in hub.started.values()] == [image]


# -- the hub's configuration ------------------------------------------------------------


HUB_CONFIG = """
[hub.auth]
kind = "example-table"
admin_users = ["grace"]
users = { ada = "lovelace-1843", grace = "cobol-1959" }
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``bindery hub`` started as people start it, configured by bindery.toml."""
    if not example_plugin_installed():
        yield ""  # the test itself fails, saying how to install the plugin
        return
    tmp = tmp_path_factory.mktemp("hub")
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    env = _environment(tmp, HUB_CONFIG, **{
        "BINDERY_HUB__DB_URL": f"sqlite:///{tmp / 'hub.sqlite'}",
        "BINDERY_HUB__COOKIE_SECRET_FILE": str(tmp / "cookie-secret"),
        "BINDERY_HUB__SPAWNER__KIND": "local",
        "BINDERY_HUB__SPAWNER__LOCAL_ROOT_DIR": str(tmp / "users"),
        "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
    })
    log = tmp / "hub.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "bindery"), "hub", "--port", str(port), "--hub-port", str(hub_port),
             "--proxy-api-port", str(api_port)], env=env, cwd=tmp, stdout=out,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/hub/api/health", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _log_in(browser: httpx.Client, name: str, password: str) -> httpx.Response:
    page = browser.get("/hub/login", params={"next": "/hub/home"})
    assert page.status_code == 200
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert xsrf, "the login page has a form"
    return browser.post("/hub/login", data={"username": name, "password": password,
                                            "_xsrf": xsrf.group(1), "next": "/hub/home"})


@pytest.mark.slow
def test_a_person_logs_in_through_the_hubs_form_with_the_plugin(hub: str) -> None:
    require_example_plugin()
    with httpx.Client(base_url=hub, trust_env=False, timeout=30) as browser:
        page = browser.get("/hub/login")
        assert 'name="password"' in page.text, "a form login: the hub shows its form"
        refused = _log_in(browser, "ada", "not-her-password")
        assert refused.status_code == 403 and "Invalid user name or password" in refused.text
        done = _log_in(browser, "Ada", "lovelace-1843")
        assert done.status_code == 302 and done.headers["location"] == "/hub/home"
        home = browser.get("/hub/home")
        assert home.status_code == 200 and "ada" in home.text
    with httpx.Client(base_url=hub, trust_env=False, timeout=30) as admin_browser:
        assert _log_in(admin_browser, "grace", "cobol-1959").status_code == 302
        users = admin_browser.get("/hub/api/user")
        assert users.status_code == 200 and users.json()["admin"] is True, users.text


def test_a_typo_in_the_plugins_own_keys_stops_the_hub_naming_it(tmp_path: Path) -> None:
    require_example_plugin()
    env = _environment(tmp_path, HUB_CONFIG.replace("users = {", "userz = {"))
    done = subprocess.run([str(BIN / "bindery"), "hub", "--port", str(_free_port())], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "userz" in done.stderr and "example-table" in done.stderr
    assert "bindery.toml, line 5" in done.stderr
