"""The ``Engine`` contract: how images are built and containers run.

The builder and the CLI only speak to this interface, so another engine
(Podman, a Kubernetes build pod) is one small class registered under the
entry-point group ``bindery.engines``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from bindery.plugins import PluginGroup, PluginOptions

LogSink = Callable[[str], None]


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


@dataclass(frozen=True)
class RunRequest:
    """A Jupyter server container to start for one person."""

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
    def run(self, request: RunRequest) -> RunningServer:
        """Start a container with its port published on 127.0.0.1 only."""

    @abstractmethod
    def stop(self, container_id: str) -> None:
        """Stop and remove a container; no error if it is gone."""

    @abstractmethod
    def is_running(self, container_id: str) -> bool:
        """True while the container exists and has not exited (created or running)."""

    @abstractmethod
    def logs(self, container_id: str, tail: int = 50) -> str:
        """The last lines a container printed (to explain a failed start)."""


#: Every installed Engine (entry-point group ``bindery.engines``).
ENGINES: PluginGroup[Engine] = PluginGroup("bindery.engines", Engine, "engine")
