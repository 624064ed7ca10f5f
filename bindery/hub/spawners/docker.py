"""``DockerSpawner``: each server is a container, run through the deployment's Engine.

Every container gets enforced limits (memory without extra swap, CPU, process
count), drops all Linux capabilities and cannot gain privileges, never runs as
uid 0 unless ``allow_root`` is set, joins a network without inter-container
traffic (all enforced by the engine for every container), and is published
on 127.0.0.1 only, on a random host port: nothing but this machine (the hub's
proxy) can reach it. Containers carry labels (``bindery.hub``, ``bindery.user``,
``bindery.server``); the saved state (container id, port) lets a restarted hub
find each server again with ``poll`` instead of starting a duplicate, and a
leftover container with a server's name is replaced only if it carries this
hub's label.

The spawner speaks only to the :class:`~bindery.engine.base.Engine` contract,
which blocks; every call runs in a worker thread so the hub's event loop keeps
serving other users meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, ClassVar, TypeVar

import anyio
import anyio.to_thread
from pydantic import field_validator

from bindery.engine.base import (
    ContainerExited,
    ContainerStartTimeout,
    ContainerState,
    Engine,
    EngineError,
    NamedVolume,
    RunRequest,
)
from bindery.eventlog import EventLog
from bindery.hub.spawners.base import ProgressEvent, Spawner, SpawnerContext, SpawnRequest
from bindery.hub.spawners.errors import SpawnerError, SpawnTimeout
from bindery.hub.spawners.naming import container_name, home_volume_name
from bindery.plugins import PluginOptions

#: Port Jupyter listens on inside every container.
CONTAINER_PORT = 8888
LABEL_HUB = "bindery.hub"
LABEL_USER = "bindery.user"
LABEL_SERVER = "bindery.server"
LABEL_INSTANCE = "bindery.instance"

T = TypeVar("T")


class DockerSpawnerOptions(PluginOptions):
    """The Docker spawner's own keys in ``[hub.spawner]``: command, limits, homes."""

    #: Program (and subcommand) that runs Jupyter inside the image; Bindery adds
    #: ip, port, base_url and default_url flags.
    server_command: tuple[str, ...] = ("jupyter", "lab")
    #: The command instead when the server must authenticate users against the hub itself
    #: (the proxy does not: ``kind = "chp"``); Bindery's images have it (package jupyterhub).
    singleuser_command: tuple[str, ...] = ("jupyterhub-singleuser",)

    # -- enforced limits per server -------------------------------------------
    #: Memory limit (docker syntax: "512m", "2g"); no swap on top of it.
    mem_limit: str = "2g"
    #: CPUs (fractions allowed: 0.5 = half a core).
    cpu_limit: float = 1.0
    #: Maximum number of processes/threads in one server (stops fork bombs).
    pids_limit: int = 512

    # -- homes ----------------------------------------------------------------
    #: Keep each server's home in a named volume ``bindery-home-<user>[-<server>]`` so
    #: files survive stops, culls and restarts (removed when the user or the named
    #: server is deleted). On for ``bindery hub``; ``bindery serve`` turns it off
    #: (binder sessions are ephemeral) unless the settings file sets it.
    persistent_home: bool = True
    #: Home directory inside images built by Bindery (uid 1000).
    home_dir: str = "/home/jovyan"

    # -- users ------------------------------------------------------------------
    #: Let a server run as root when its image says so (a repository Dockerfile
    #: with ``USER root`` or none). Off: such servers run as uid 1000, gid 100.
    #: Capabilities stay dropped and no-new-privileges stays set either way.
    allow_root: bool = False

    #: Seconds between SIGTERM and SIGKILL when stopping a server.
    stop_grace: float = 5.0

    @field_validator("mem_limit")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        from docker.utils import parse_bytes  # the engine's own parser: same reading as docker

        try:
            size = parse_bytes(value)
        except Exception as err:
            raise ValueError(f"mem_limit {value!r} is not a size such as '512m' or '2g'") from err
        if size < 6 * 1024**2:
            raise ValueError(f"mem_limit {value!r} is below Docker's minimum of 6m")
        return value

    @field_validator("cpu_limit")
    @classmethod
    def _positive_cpu(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("cpu_limit must be greater than 0 (e.g. 1.0 for one core)")
        return value

    @field_validator("pids_limit")
    @classmethod
    def _positive_int(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    return await anyio.to_thread.run_sync(partial(func, *args))


class DockerSpawner(Spawner):
    """One container per server, limits enforced, reachable on loopback only."""

    name: ClassVar[str] = "docker"
    options_model: ClassVar[type[PluginOptions]] = DockerSpawnerOptions
    enforces_start_timeout: ClassVar[bool] = True

    options: DockerSpawnerOptions

    def __init__(self, request: SpawnRequest, options: PluginOptions, context: SpawnerContext) -> None:
        super().__init__(request, options, context)
        if not request.user:
            raise SpawnerError("A server needs a user name.")
        self.container_id: str | None = None
        self.port: int | None = None
        self.image: str | None = None
        self._progress: EventLog[ProgressEvent] = EventLog()

    @property
    def engine(self) -> Engine:
        return self.context.require_engine(self.name)

    @property
    def container_name(self) -> str:
        return container_name(self.request.user, self.request.server_name)

    @property
    def home_volume(self) -> str:
        return home_volume_name(self.request.user, self.request.server_name)

    @property
    def url(self) -> str | None:
        """Where the server is published, if started (also after ``load_state``)."""
        return f"http://127.0.0.1:{self.port}" if self.port else None

    # -- image -------------------------------------------------------------------

    def check_image(self) -> None:
        """Refuse a requested image outside the hub's image policy (no engine call needed)."""
        if self.request.image is not None:
            self.context.images.check(self.request.image)

    def _resolve_image(self) -> str:
        self.check_image()
        if self.request.image:
            return self.request.image
        if self.context.images.default:
            return self.context.images.default
        if self.context.default_image is None:
            raise SpawnerError(
                "No image was requested and this hub has no default image; set "
                "hub.spawner.image or start the hub with `bindery hub`."
            )
        self._progress.append(ProgressEvent(10, "Preparing the default environment (built on first use)"))
        return self.context.default_image()

    def _ensure_image_present(self, image: str) -> None:
        if self.engine.image_labels(image) is not None:
            return
        self._progress.append(ProgressEvent(20, f"Pulling image {image}"))
        self.engine.pull_image(image)

    # -- container ---------------------------------------------------------------

    def _command(self) -> list[str]:
        base_url = self.request.base_url
        program = self.options.singleuser_command if self.request.hub_auth \
            else self.options.server_command
        command = list(program) + [
            "--ip=0.0.0.0",  # inside the container; published on the host's 127.0.0.1 only
            f"--port={CONTAINER_PORT}",
            "--no-browser",
            "--ServerApp.port_retries=0",
            f"--ServerApp.base_url={base_url}",
            *self.request.hub_page_flags(),
        ]
        if self.request.default_url:
            command.append(f"--ServerApp.default_url={base_url}{self.request.default_url.lstrip('/')}")
        return command

    def _environment(self) -> dict[str, str]:
        # The token travels as JUPYTER_TOKEN (set by the engine from RunRequest.token):
        # in the environment, where jupyter_server reads it, not on the command line (ps).
        return {
            **self.request.env,
            "BINDERY_USER": self.request.user,
            "BINDERY_SERVER_NAME": self.request.server_name,
            "BINDERY_BASE_URL": self.request.base_url,
            "JUPYTERHUB_SERVICE_URL": f"http://0.0.0.0:{CONTAINER_PORT}{self.request.base_url}",
        }

    def labels(self) -> dict[str, str]:
        return {
            LABEL_HUB: self.context.hub_id,
            LABEL_USER: self.request.user,
            LABEL_SERVER: self.request.server_name,
            LABEL_INSTANCE: self.context.instance,
        }

    def _run_request(self, image: str) -> RunRequest:
        o = self.options
        volumes: tuple[NamedVolume, ...] = ()
        if o.persistent_home:
            volumes = (NamedVolume(self.home_volume, o.home_dir, self.labels()),)
        return RunRequest(
            image=image,
            token=self.request.api_token,
            container_port=CONTAINER_PORT,
            command=self._command(),
            env=self._environment(),
            name=self.container_name,
            labels=self.labels(),
            volumes=volumes,
            memory=o.mem_limit,
            swap=False,
            cpus=o.cpu_limit,
            pids_limit=o.pids_limit,
            allow_root=o.allow_root,
            start_timeout=self.context.start_timeout,
            # A server that checks users with the hub must reach its API: the deployment
            # points [hub] hub_connect_url at host.docker.internal (docs/hub.md).
            extra_hosts={"host.docker.internal": "host-gateway"} if self.request.hub_auth else {},
        )

    def _remove_stale_container(self) -> None:
        """A leftover container with our name (crash) is replaced; a stranger's is not touched."""
        existing = self.engine.inspect(self.container_name)
        if existing is None:
            return
        if existing.labels.get(LABEL_HUB) != self.context.hub_id:
            raise SpawnerError(
                f"A container named {self.container_name!r} already exists and does not belong "
                "to this hub; remove or rename it."
            )
        self.engine.stop(existing.container_id, grace=0)

    def _run(self, image: str) -> None:
        # Recorded here, in the worker thread, so a start cancelled meanwhile still
        # knows which container to remove.
        server = self.engine.run(self._run_request(image))
        self.container_id, self.port, self.image = server.container_id, server.host_port, image

    def _out_of_memory(self) -> str:
        return f"ran out of memory (limit {self.options.mem_limit})"

    def _exit_reason(self, state: ContainerState) -> str:
        """Why a container ended, in words (a person can act on "out of memory")."""
        reason = f"exit status {state.exit_code}"
        if state.oom_killed:
            reason += f"; it {self._out_of_memory()}"
        return reason

    # -- contract ----------------------------------------------------------------

    @classmethod
    def sweep_leftovers(cls, known: set[tuple[str, str]], options: PluginOptions,
                        context: SpawnerContext) -> list[str]:
        """Containers labelled with this hub whose server the database does not know."""
        engine = context.engine
        if engine is None:
            return []
        removed = []
        if not context.instance:
            return []
        for state in engine.containers({LABEL_HUB: context.hub_id,
                                        LABEL_INSTANCE: context.instance}):
            key = (state.labels.get(LABEL_USER, ""), state.labels.get(LABEL_SERVER, ""))
            if key in known:
                continue
            engine.stop(state.container_id, grace=0)
            removed.append(f"{key[0]}/{key[1]}")
        return removed

    async def start(self) -> str:
        if self._progress.closed:  # started again after a stop: a new start, a new log
            self._progress = EventLog()
        try:
            return await self._start()
        except ContainerExited as err:
            raise SpawnerError(
                f"The server container stopped right away ({self._exit_reason(err.state)}). "
                f"Last log lines:\n{err.log_tail}"
            ) from err
        except ContainerStartTimeout as err:
            raise SpawnTimeout(
                f"The container was not running after {self.context.start_timeout:g} s "
                f"(state: {err.status})."
            ) from err
        except EngineError as err:
            raise SpawnerError(str(err)) from err
        finally:
            self._progress.close()

    async def _start(self) -> str:
        self._progress.append(ProgressEvent(5, "Choosing the image"))
        image = await _in_thread(self._resolve_image)
        await _in_thread(self._ensure_image_present, image)
        # The start timeout counts once the image is there (in ``engine.run``):
        # a first-use build is not "starting".
        try:
            self._progress.append(ProgressEvent(40, "Creating your server container"))
            await _in_thread(self._remove_stale_container)
            self._progress.append(ProgressEvent(60, "Starting the container"))
            await _in_thread(self._run, image)
        except BaseException:
            with anyio.CancelScope(shield=True):  # clean up even when the spawn is cancelled
                await self.stop()
            raise
        self._progress.append(ProgressEvent(90, "Container is running; waiting for the server to answer"))
        return f"http://127.0.0.1:{self.port}"

    async def poll(self) -> int | None:
        if self.container_id is None:
            return 0
        state = await _in_thread(self.engine.inspect, self.container_id)
        if state is None:
            return 0
        if state.running:
            return None
        # Ended, or created but never started (a hub that crashed in between): gone.
        return state.exit_code or 0

    async def stop(self) -> None:
        if self.container_id is None:
            return
        try:
            await _in_thread(self.engine.stop, self.container_id, self.options.stop_grace)
        except EngineError as err:
            raise SpawnerError(str(err)) from err
        self.container_id = None
        self.port = None

    async def exit_reason(self) -> str:
        """"exit status 137; it ran out of memory (limit 2g)", read before ``stop`` removes it."""
        if self.container_id is None:
            return ""
        try:
            state = await _in_thread(self.engine.inspect, self.container_id)
        except EngineError:
            return ""
        if state is None or not state.ended:
            return ""
        return self._exit_reason(state)

    async def delete_forever(self) -> None:
        """Remove the server's home volume (its files are gone for good)."""
        if not self.options.persistent_home:
            return
        try:
            await _in_thread(self.engine.remove_volume, self.home_volume)
        except EngineError as err:
            raise SpawnerError(str(err)) from err

    async def log_tail(self, lines: int = 20) -> str:
        """Last output of the container (kept until ``stop`` removes it), and why it ended."""
        if self.container_id is None:
            return ""
        try:
            text = await _in_thread(self.engine.logs, self.container_id, lines)
            state = await _in_thread(self.engine.inspect, self.container_id)
        except EngineError:
            return ""
        if state is not None and state.ended and state.oom_killed:
            text = text.rstrip("\n") + f"\nThe server {self._out_of_memory()} and was stopped.\n"
        return text

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
