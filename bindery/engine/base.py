"""The ``Engine`` contract: how images are built and containers run.

The builder, the CLI and the Docker spawner only speak to this interface, so
another engine (Podman, a Kubernetes build pod) is one small class registered
under the entry-point group ``bindery.engines``. Every method blocks; async
callers run them in a worker thread.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from bindery.errors import BinderyError
from bindery.plugins import PluginGroup, PluginOptions

LogSink = Callable[[str], None]


class EngineError(BinderyError):
    """The engine refused an operation on an image or a container; the text says why."""


class ContainerExited(EngineError):
    """The container stopped before it was running with its port published."""

    def __init__(self, message: str, state: ContainerState, log_tail: str) -> None:
        super().__init__(message)
        self.state = state
        self.log_tail = log_tail


class ContainerStartTimeout(EngineError):
    """The container was not running with its port published within ``start_timeout``."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        #: The engine's word for the state it was left in ("created", ...).
        self.status = status


@dataclass(frozen=True)
class BuildRequest:
    """One image build: a context directory plus the Dockerfile to use in it."""

    context_dir: Path
    dockerfile: Path
    tag: str
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Seconds before the build is cancelled (BuildLimitExceeded).
    timeout: float | None = None
    #: Memory limit for build steps, docker syntax ("4g"); None = unlimited.
    memory: str | None = None
    #: ``ARG`` values (``--build-arg NAME=value``).
    build_args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NamedVolume:
    """A volume the engine keeps by name across containers, created on first use."""

    name: str
    #: Where it is mounted inside the container.
    target: str
    #: Labels given to the volume when it is created (to find and clean it up later).
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRequest:
    """A Jupyter server container to start for one person.

    Whatever the request says, the container has no Linux capabilities, cannot
    gain privileges (``no-new-privileges``), runs on the engine's user network
    without inter-container traffic, and its port is published on 127.0.0.1 only.
    It never runs as uid 0 unless ``allow_root`` is set (see ``run_as_user``).
    """

    image: str
    token: str
    #: Host port on 127.0.0.1 (0 = pick a free one).
    host_port: int = 0
    container_port: int = 8888
    command: list[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    #: Host directory mounted over the home directory (``--editable``).
    mount_home: Path | None = None
    memory: str | None = None
    cpus: float | None = None
    pids_limit: int | None = 512
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Named volumes to mount (a user's persistent home).
    volumes: tuple[NamedVolume, ...] = ()
    #: False: ``memory`` bounds memory and swap together (no swap on top of it).
    swap: bool = True
    #: Let the container run as the image's user even when that is root (an
    #: admin's explicit choice); otherwise a root image user becomes ``NON_ROOT_USER``.
    allow_root: bool = False
    #: Seconds for the container to be running with its port published.
    start_timeout: float = 60.0
    #: Extra ``/etc/hosts`` entries (name → address; ``"host-gateway"`` = this machine as
    #: seen from the container), e.g. so a server can reach the hub's API.
    extra_hosts: Mapping[str, str] = field(default_factory=dict)


#: The user a server runs as when its image says root, names no user, or names
#: one by name (its uid cannot be known without running the image): jovyan's
#: uid and the ``users`` group, what repo2docker and BinderHub images use.
NON_ROOT_USER = "1000:100"


def run_as_user(image_user: str, allow_root: bool) -> str | None:
    """The ``--user`` to run an image whose configured user is ``image_user``.

    ``None`` keeps the image's own user: it is a numeric uid other than 0, or
    root is allowed. Anything else (``""``, ``root``, ``0``, ``0:0``, a name)
    could be uid 0, so the server runs as ``NON_ROOT_USER`` instead.
    """
    if allow_root:
        return None
    uid = image_user.split(":", 1)[0].strip()
    if uid.isdigit() and int(uid) != 0:
        return None
    return NON_ROOT_USER


@dataclass(frozen=True)
class ContainerState:
    """What the engine knows about one container right now."""

    container_id: str
    name: str
    #: The engine's own word: "created", "running", "paused", "restarting", "exited", "dead".
    status: str
    #: Exit status once it ended (``None`` while it has not).
    exit_code: int | None
    #: The kernel killed it for using more memory than its limit.
    oom_killed: bool
    labels: Mapping[str, str] = field(default_factory=dict)
    image: str = ""
    #: Container port → host port on 127.0.0.1, for ports published right now.
    published: Mapping[int, int] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        """Its processes exist (running, or paused/restarting by the engine)."""
        return self.status in ("running", "paused", "restarting")

    @property
    def ended(self) -> bool:
        """It ran and stopped; it will not run again by itself."""
        return self.status in ("exited", "dead")


@dataclass(frozen=True)
class RunningServer:
    """What ``run`` started: where it listens and how to stop it."""

    container_id: str
    host_port: int
    url: str


class Engine(ABC):
    """A container engine able to build images and run servers.

    An engine is constructed with its own validated options (``options_model``),
    taken from the ``[engine]`` section of the settings.
    """

    name: ClassVar[str]
    options_model: ClassVar[type[PluginOptions]] = PluginOptions

    def __init__(self, options: PluginOptions) -> None:
        self.options = options

    @abstractmethod
    def check(self) -> str:
        """Return a one-line description of the engine, or raise EngineUnavailable."""

    @abstractmethod
    def build(self, request: BuildRequest, on_log: LogSink) -> None:
        """Build ``request.tag``; stream every log line to ``on_log``.

        Raises BuildError (with the log tail) or BuildLimitExceeded. A failed
        build leaves no image tagged ``request.tag``.
        """

    @abstractmethod
    def image_labels(self, name: str) -> dict[str, str] | None:
        """Labels of a local image, or ``None`` when it does not exist."""

    @abstractmethod
    def remove_image(self, name: str) -> None:
        """Remove (untag) an image; no error if it is missing."""

    @abstractmethod
    def read_file(self, image: str, path: str) -> str:
        """Contents of ``path`` inside ``image`` (used to read the install lock)."""

    @abstractmethod
    def pull_image(self, name: str) -> None:
        """Fetch an image from its registry; ``EngineError`` saying why when it cannot."""

    def tag_image(self, source: str, target: str) -> bool:
        """Give image ``source`` the extra name ``target``; False when the engine cannot
        (the builder then makes the name with a label-only build)."""
        return False

    def provide_base_image(self, name: str, mirror: str, on_log: LogSink) -> None:
        """Make the missing base image ``name`` (``bindery/base:<suite>``) for a build.

        Optional: an engine that cannot make one says so, and the build fails
        naming the image. ``mirror`` is the Debian mirror to use ("" = the host's).
        """
        raise EngineError(
            f"The base image {name} is missing and the {self.name} engine cannot make it; "
            "make it ahead of time (see 'bindery doctor --fix')."
        )

    @abstractmethod
    def run(self, request: RunRequest) -> RunningServer:
        """Start a container and return once it runs with its port published on 127.0.0.1.

        Raises ``ContainerExited`` (it stopped first), ``ContainerStartTimeout`` or
        ``EngineError`` (refused); in every case the container is removed again.
        """

    @abstractmethod
    def inspect(self, container: str) -> ContainerState | None:
        """The state of a container by id or name, or ``None`` when there is none."""

    @abstractmethod
    def stop(self, container_id: str, grace: float = 5.0) -> None:
        """Stop (SIGTERM, SIGKILL after ``grace`` s; 0 = at once) and remove a container.

        No error if it is gone already; ``EngineError`` if it cannot be removed.
        """

    @abstractmethod
    def is_running(self, container_id: str) -> bool:
        """True while the container exists and has not exited (created or running)."""

    def containers(self, labels: Mapping[str, str]) -> list[ContainerState]:
        """Containers (running or not) carrying all of ``labels``; default: none known."""
        return []

    def remove_volume(self, name: str) -> None:  # noqa: B027 - optional: engines without volumes
        """Remove a named volume and its data; no error if it is missing (default: nothing
        to remove, for engines that keep no volumes)."""

    @abstractmethod
    def logs(self, container_id: str, tail: int = 50) -> str:
        """The last lines a container printed (to explain a failed start)."""


#: Every installed Engine (entry-point group ``bindery.engines``).
#: (mypy refuses an abstract class as ``type[T]``; the registry only checks subclasses.)
ENGINES: PluginGroup[Engine] = PluginGroup("bindery.engines", Engine, "engine")
