"""Fixtures of the operations tests: ``bindery serve`` / ``bindery hub`` as real processes
with the Docker spawner, real signals, real ``kill -9``, real containers.

Every instance gets its own data directory and hub id, so its containers and volumes
are found (and removed at the end) by label.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest
from hub.conftest import HubProcess, free_port
from spawners.conftest import docker_engine, spawner_image  # noqa: F401 - pytest fixtures

SERVE_ENV_DROP = ("BINDERY_", "CONFIGPROXY_")


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def containers(client: docker.DockerClient, hub_id: str, running_only: bool = True) -> list[Any]:
    return client.containers.list(all=not running_only, filters={"label": f"bindery.hub={hub_id}"})


def remove_everything(client: docker.DockerClient, hub_id: str) -> None:
    label = {"label": f"bindery.hub={hub_id}"}
    for container in client.containers.list(all=True, filters=label):
        container.remove(force=True)
    for volume in client.volumes.list(filters=label):
        try:
            volume.remove(force=True)
        except docker.errors.APIError:
            pass


def kill_recorded_proxy(data_dir: Path) -> None:
    """Stop a proxy a killed instance left behind (its pid is in the proxy record)."""
    record = data_dir / "bindery-proxy.json"
    if record.is_file():
        try:
            os.kill(json.loads(record.read_text())["pid"], signal.SIGKILL)
        except (ProcessLookupError, ValueError, KeyError):
            pass


@dataclass
class ServeProcess:
    """``bindery serve`` on its own port, data directory and hub id."""

    data_dir: Path
    image: str
    port: int = field(default_factory=free_port)
    hub_id: str = field(default_factory=lambda: f"bindery-test-ops-{secrets.token_hex(4)}")
    admin_token: str = field(default_factory=lambda: secrets.token_hex(24))
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self, **more: str) -> dict[str, str]:
        return {"Authorization": f"token {self.admin_token}", **more}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SERVE_ENV_DROP)}
        env.update({
            "BINDERY_BUILDER__IMAGE_PREFIX": "bindery-test-binder",
            "BINDERY_BINDER__HUB_API_TOKEN": self.admin_token,
            "BINDERY_BINDER__WARM_POOL_SIZE": "0",
            "BINDERY_HUB__HUB_ID": self.hub_id,
            "BINDERY_HUB__SPAWNER__IMAGE": self.image,
            "BINDERY_HUB__SPAWNER__MEM_LIMIT": "512m",
            "BINDERY_HUB__SPAWNER__STOP_GRACE": "2",
            "BINDERY_HUB__SLOW_SPAWN_TIMEOUT": "120",
        })
        return env

    def run(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "bindery.cli", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir), *self.extra_args, *args],
            env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=self.data_dir.parent)

    def start(self) -> None:
        self.process = self.run()
        self.output = []
        deadline = time.monotonic() + 120
        while True:
            line = self.process.stdout.readline() if self.process.stdout else ""
            self.output.append(line)
            if "serving at" in line:
                return
            if not line and self.process.poll() is not None:
                raise AssertionError("serve exited at start:\n" + "".join(self.output))
            assert time.monotonic() < deadline, "".join(self.output)

    def finish(self, timeout: float) -> tuple[int, str]:
        """Wait for the exit; the exit code and everything it printed."""
        assert self.process is not None
        rest, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, "".join(self.output) + rest

    def start_server(self, user: str) -> None:
        with httpx.Client(trust_env=False, timeout=120) as http:
            http.post(f"{self.url}/hub/api/users/{user}", headers=self.headers())
            answer = http.post(f"{self.url}/hub/api/users/{user}/server", headers=self.headers())
            assert answer.status_code == 201, answer.text

    def kill_all(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=30)
        kill_recorded_proxy(self.data_dir)


@pytest.fixture
def make_serve(tmp_path: Path, docker_engine, spawner_image: str  # noqa: F811
               ) -> Iterator[Callable[..., ServeProcess]]:
    """``make_serve(name)``: a ServeProcess with data directory ``tmp_path/name``; every
    one made is killed and its containers removed at the end."""
    made: list[ServeProcess] = []

    def make(name: str, **kwargs: Any) -> ServeProcess:
        serve = ServeProcess(tmp_path / name, spawner_image, **kwargs)
        made.append(serve)
        return serve

    yield make
    for serve in made:
        serve.kill_all()
        remove_everything(docker_engine, serve.hub_id)


@pytest.fixture
def docker_hub(tmp_path: Path, docker_engine, spawner_image: str  # noqa: F811
               ) -> Iterator[Callable[..., HubProcess]]:
    """``docker_hub(**env)``: a ``bindery hub`` process with the Docker spawner (not started)."""
    made: list[tuple[HubProcess, str]] = []

    def make(**env: str) -> HubProcess:
        hub_id = f"bindery-test-ops-{secrets.token_hex(4)}"
        hub = HubProcess(tmp_path, extra_env={
            "BINDERY_HUB__SPAWNER__KIND": "docker",
            "BINDERY_HUB__SPAWNER__IMAGE": spawner_image,
            "BINDERY_HUB__SPAWNER__MEM_LIMIT": "512m",
            "BINDERY_HUB__SPAWNER__STOP_GRACE": "2",
            "BINDERY_HUB__SLOW_SPAWN_TIMEOUT": "120",
            "BINDERY_HUB__HUB_ID": hub_id,
            "BINDERY_HUB__SERVER_POLL_INTERVAL": "1",
            **env,
        })
        made.append((hub, hub_id))
        return hub

    yield make
    for hub, hub_id in made:
        if hub.process is not None and hub.process.poll() is None:
            hub.process.kill()
            hub.process.wait()
        kill_recorded_proxy(hub.tmp_path)
        remove_everything(docker_engine, hub_id)
