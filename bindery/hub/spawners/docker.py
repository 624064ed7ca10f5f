"""``DockerSpawner``: each server is a container on the local Docker engine.

Every container gets enforced limits (memory, CPU, process count), drops all
Linux capabilities and cannot gain privileges, and is published on 127.0.0.1
only, on a random host port: nothing but this machine (the hub's proxy) can
reach it. Containers carry labels (``bindery.hub``, ``bindery.user``,
``bindery.server``) so a restarted hub finds its servers again with
:meth:`DockerSpawner.find_running` instead of starting duplicates.

The Docker SDK is blocking; every call runs in a worker thread so the hub's
event loop keeps serving other users meanwhile.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, TypeVar

import anyio
import anyio.to_thread
import docker
import docker.errors
from docker.models.containers import Container

from bindery.hub.spawners.base import ProgressEvent, Spawner, SpawnRequest
from bindery.hub.spawners.errors import ImageNotAllowed, SpawnerError, SpawnTimeout
from bindery.hub.spawners.naming import container_name, home_volume_name
from bindery.hub.spawners.options import DEFAULT_HUB_ID, app_settings, spawner_settings
from bindery.hub.spawners.progress import ProgressLog
from bindery.hub.spawners.settings import SpawnerSettings

#: Port Jupyter listens on inside every container.
CONTAINER_PORT = 8888
LABEL_HUB = "bindery.hub"
LABEL_USER = "bindery.user"
LABEL_SERVER = "bindery.server"
#: Container states in which the server counts as "still there" for ``poll``
#: ("created" only while this instance is starting it: a hub that crashed between
#: create and start leaves a container that will never run by itself).
_ALIVE_STATES = {"running", "paused", "restarting"}

T = TypeVar("T")

_shared_client: docker.DockerClient | None = None


def docker_client() -> docker.DockerClient:
    """One client per process (it pools connections to the engine's socket)."""
    global _shared_client
    if _shared_client is None:
        try:
            _shared_client = docker.from_env()
        except docker.errors.DockerException as err:
            raise SpawnerError(
                f"The container engine is not reachable ({err}). Start Docker, or run "
                "`bindery doctor` to see what is missing."
            ) from err
    return _shared_client


async def _in_thread(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await anyio.to_thread.run_sync(partial(func, *args, **kwargs))


def image_allowed(image: str, settings: SpawnerSettings) -> bool:
    """Whether a request may name ``image`` (the configured default always may)."""
    if settings.image is not None and image == settings.image:
        return True
    return any(fnmatch.fnmatchcase(image, pattern) for pattern in settings.allowed_images)


def _published_port(container: Container) -> int | None:
    ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
    for binding in ports.get(f"{CONTAINER_PORT}/tcp") or []:
        if binding.get("HostIp") in ("127.0.0.1", "") and binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


@dataclass
class FoundServer:
    """A running container of this hub, as found after a restart."""

    user: str
    server_name: str
    container_id: str
    container_name: str
    #: ``http://127.0.0.1:PORT`` (``None`` if its port could not be read).
    url: str | None
    #: What to pass to ``DockerSpawner.load_state``.
    state: dict[str, Any] = field(default_factory=dict)


class DockerSpawner(Spawner):
    """One container per server, limits enforced, reachable on loopback only."""

    name: ClassVar[str] = "docker"
    enforces_start_timeout: ClassVar[bool] = True

    def __init__(self, request: SpawnRequest, **options: Any) -> None:
        super().__init__(request, **options)
        if not request.user:
            raise SpawnerError("A server needs a user name.")
        self.settings = spawner_settings(options)
        self.hub_id: str = options.get("hub_id") or DEFAULT_HUB_ID
        self._client: docker.DockerClient | None = options.get("client")
        self.container_id: str | None = None
        self.port: int | None = None
        self.image: str | None = None
        #: Why the container ended, in words (e.g. out of memory), once ``poll`` saw it end.
        self.exit_reason: str | None = None
        self._starting = False
        self._progress = ProgressLog()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker_client()
        return self._client

    @property
    def container_name(self) -> str:
        return container_name(self.request.user, self.request.server_name)

    @property
    def url(self) -> str | None:
        """Where the server is published, if started (also after ``load_state``)."""
        return f"http://127.0.0.1:{self.port}" if self.port else None

    # -- image -------------------------------------------------------------------

    def check_image(self) -> None:
        """Refuse a requested image outside ``allowed_images`` (no engine call needed)."""
        requested = self.request.image
        if requested is not None and not image_allowed(requested, self.settings):
            allowed = ", ".join(self.settings.allowed_images) or "(none)"
            raise ImageNotAllowed(
                f"The image {requested!r} is not allowed on this hub. Allowed images: "
                f"{allowed}. Launch a repository through Bindery to get an allowed image."
            )

    def _resolve_image(self) -> str:
        self.check_image()
        if self.request.image:
            return self.request.image
        if self.settings.image:
            return self.settings.image
        self._progress.emit(10, "Preparing the default environment (built on first use)")
        from bindery.composition import load_settings, make_builder  # FIXME: injected next

        settings = app_settings(self.options)
        if settings is None:
            settings = load_settings()
        return make_builder(settings).ensure_default_image()

    def _ensure_image_present(self, image: str) -> None:
        try:
            self.client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        self._progress.emit(20, f"Pulling image {image}")
        try:
            self.client.images.pull(image)
        except docker.errors.APIError as err:
            raise SpawnerError(
                f"The image {image!r} is not on this machine and could not be pulled "
                f"({err.explanation or err}). Build it first (e.g. `bindery build`)."
            ) from err

    # -- container ---------------------------------------------------------------

    def _command(self) -> list[str]:
        base_url = self.request.base_url
        command = list(self.settings.server_command) + [
            "--ip=0.0.0.0",  # inside the container; published on the host's 127.0.0.1 only
            f"--port={CONTAINER_PORT}",
            "--no-browser",
            "--ServerApp.port_retries=0",
            f"--ServerApp.base_url={base_url}",
        ]
        if self.request.default_url:
            command.append(f"--ServerApp.default_url={base_url}{self.request.default_url.lstrip('/')}")
        return command

    def _environment(self) -> dict[str, str]:
        return {
            **self.request.env,
            "BINDERY_USER": self.request.user,
            "BINDERY_SERVER_NAME": self.request.server_name,
            "BINDERY_BASE_URL": self.request.base_url,
            # Read by jupyter_server; in the environment, not the command line (ps).
            "JUPYTER_TOKEN": self.request.api_token,
        }

    def labels(self) -> dict[str, str]:
        return {
            LABEL_HUB: self.hub_id,
            LABEL_USER: self.request.user,
            LABEL_SERVER: self.request.server_name,
        }

    def _remove_stale_container(self) -> None:
        """A leftover container with our name (crash) is replaced; a stranger's is not touched."""
        try:
            existing = self.client.containers.get(self.container_name)
        except docker.errors.NotFound:
            return
        if (existing.labels or {}).get(LABEL_HUB) != self.hub_id:
            raise SpawnerError(
                f"A container named {self.container_name!r} already exists and does not belong "
                "to this hub; remove or rename it."
            )
        existing.remove(force=True)

    def _create_and_start(self, image: str) -> Container:
        s = self.settings
        volumes: dict[str, dict[str, str]] = {}
        if s.persistent_home:
            volume = home_volume_name(self.request.user)
            try:
                self.client.volumes.get(volume)
            except docker.errors.NotFound:
                self.client.volumes.create(volume, labels={LABEL_HUB: self.hub_id, LABEL_USER: self.request.user})
            volumes[volume] = {"bind": s.home_dir, "mode": "rw"}
        self._remove_stale_container()
        self._progress.emit(40, "Creating your server container")
        container = self.client.containers.create(
            image,
            self._command(),
            name=self.container_name,
            environment=self._environment(),
            labels=self.labels(),
            ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", None)},
            volumes=volumes,
            mem_limit=s.mem_limit,
            memswap_limit=s.mem_limit,  # equal to mem_limit: no swap on top of it
            nano_cpus=int(s.cpu_limit * 1_000_000_000),
            pids_limit=s.pids_limit,
            security_opt=["no-new-privileges"],
            cap_drop=["ALL"],
            detach=True,
        )
        self.container_id = container.id
        self.image = image
        self._progress.emit(60, "Starting the container")
        try:
            container.start()
        except docker.errors.APIError as err:
            container.remove(force=True)
            self.container_id = None
            raise SpawnerError(f"The container could not start: {err.explanation or err}") from err
        return container

    def _wait_running(self, container: Container, deadline: float) -> int:
        """Block until the container runs with its port published; return the host port."""
        while True:
            container.reload()
            status = container.status
            port = _published_port(container)
            if status == "running" and port:
                return port
            if status in ("exited", "dead"):
                logs = container.logs(tail=20).decode("utf-8", "replace")
                code = container.attrs["State"].get("ExitCode")
                raise SpawnerError(
                    f"The server container stopped right away (exit status {code}). "
                    f"Last log lines:\n{logs}"
                )
            if time.monotonic() > deadline:
                raise SpawnTimeout(
                    f"The container was not running after {self.settings.start_timeout:g} s "
                    f"(state: {status})."
                )
            time.sleep(0.1)

    # -- contract ----------------------------------------------------------------

    async def start(self) -> str:
        self._starting = True
        try:
            return await self._start()
        finally:
            self._starting = False
            self._progress.finish()

    async def _start(self) -> str:
        self._progress.emit(5, "Choosing the image")
        image = await _in_thread(self._resolve_image)
        await _in_thread(self._ensure_image_present, image)
        # The clock starts once the image is there: a first-use build is not "starting".
        deadline = time.monotonic() + self.settings.start_timeout
        try:
            container = await _in_thread(self._create_and_start, image)
            self._progress.emit(80, "Waiting for the container to run")
            self.port = await _in_thread(self._wait_running, container, deadline)
        except BaseException as err:
            with anyio.CancelScope(shield=True):  # clean up even when the spawn is cancelled
                await self.stop()
            if isinstance(err, docker.errors.APIError):
                raise SpawnerError(
                    f"The container engine refused to run the server: {err.explanation or err}"
                ) from err
            raise
        self._progress.emit(90, "Container is running; waiting for the server to answer")
        return f"http://127.0.0.1:{self.port}"

    async def poll(self) -> int | None:
        if self.container_id is None:
            return 0
        try:
            container = await _in_thread(self.client.containers.get, self.container_id)
        except docker.errors.NotFound:
            return 0
        if container.status in _ALIVE_STATES or (container.status == "created" and self._starting):
            return None
        state = container.attrs.get("State") or {}
        code = int(state.get("ExitCode") or 0)
        if state.get("OOMKilled"):
            self.exit_reason = f"ran out of memory (limit {self.settings.mem_limit})"
        elif code:
            self.exit_reason = f"exited with status {code}"
        return code

    async def stop(self) -> None:
        if self.container_id is None:
            return
        await _in_thread(self._stop_and_remove, self.container_id)
        self.container_id = None
        self.port = None

    def _stop_and_remove(self, container_id: str) -> None:
        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return
        try:
            container.stop(timeout=max(1, int(self.settings.stop_grace)))
        except docker.errors.APIError:
            pass  # already stopping or gone: removal below settles it
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as err:
            if "already in progress" not in str(err):
                raise SpawnerError(f"The server container could not be removed: {err.explanation or err}") from err

    async def log_tail(self, lines: int = 20) -> str:
        """Last output of the container (kept until ``stop`` removes it)."""
        if self.container_id is None:
            return ""
        try:
            container = await _in_thread(self.client.containers.get, self.container_id)
            raw = await _in_thread(container.logs, tail=lines)
        except docker.errors.APIError:
            return ""
        return raw.decode("utf-8", "replace")

    def get_state(self) -> dict[str, Any]:
        if self.container_id is None:
            return {}
        return {
            "container_id": self.container_id,
            "container_name": self.container_name,
            "port": self.port,
            "image": self.image,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.container_id = state.get("container_id")
        self.port = state.get("port")
        self.image = state.get("image")

    async def progress(self) -> AsyncIterator[ProgressEvent]:
        async for event in self._progress.follow():
            yield event

    # -- reconciliation ------------------------------------------------------------

    @classmethod
    async def find_running(
        cls, hub_id: str = DEFAULT_HUB_ID, client: docker.DockerClient | None = None
    ) -> list[FoundServer]:
        """Running containers labelled for ``hub_id``: what a restarted hub still has."""
        engine = client or docker_client()
        containers = await _in_thread(
            engine.containers.list, filters={"label": f"{LABEL_HUB}={hub_id}", "status": "running"}
        )
        found: list[FoundServer] = []
        for container in containers:
            labels = container.labels or {}
            port = _published_port(container)
            found.append(
                FoundServer(
                    user=labels.get(LABEL_USER, ""),
                    server_name=labels.get(LABEL_SERVER, ""),
                    container_id=container.id,
                    container_name=container.name,
                    url=f"http://127.0.0.1:{port}" if port else None,
                    state={
                        "container_id": container.id,
                        "container_name": container.name,
                        "port": port,
                        "image": (container.attrs.get("Config") or {}).get("Image"),
                    },
                )
            )
        return found
