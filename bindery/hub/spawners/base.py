"""The ``Spawner`` contract: how one user's Jupyter server is started and stopped.

One Spawner instance manages one server (a user's default server or one of
their named servers). The hub persists ``get_state()`` in its database so that
after a hub restart a new instance, given the saved state via ``load_state``,
finds the same server again (``poll``) instead of starting a second one.

Spawners are plugins (:data:`SPAWNERS`, entry-point group ``bindery.spawners``).
Each is constructed with three typed things and nothing else: the request, its own
validated options (``options_model``: the keys beside ``kind`` in ``[hub.spawner]``)
and a :class:`SpawnerContext` with what the deployment gives every spawner. A
spawner never reads configuration files or the environment itself.

The server must serve Jupyter under ``base_url`` and require ``api_token``
(``Authorization: token <api_token>``): the proxy injects that header for
authenticated users, so the token never reaches a browser.
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from bindery.hub.spawners.errors import ImageNotAllowed, SpawnerError
from bindery.plugins import PluginGroup, PluginOptions

if TYPE_CHECKING:
    from bindery.engine.base import Engine


@dataclass
class SpawnRequest:
    """Everything a spawner needs to know about the server it should run."""

    user: str
    #: "" for the default server.
    server_name: str
    #: URL prefix the server must serve under, e.g. "/user/alice/" or "/user/alice/proj/".
    base_url: str
    #: Secret the server requires; injected by the proxy, never shown to users.
    api_token: str
    #: Image (container spawners) chosen by the user or the deployment; None = default.
    image: str | None = None
    #: Extra environment variables for the server process.
    env: dict[str, str] = field(default_factory=dict)
    #: Where to open after start, relative to base_url (e.g. "lab/tree/a.ipynb").
    default_url: str | None = None
    #: The proxy does not authenticate users (configurable-http-proxy): the server must
    #: do it against the hub itself, as JupyterHub's single-user servers do, by running
    #: ``jupyterhub-singleuser`` with the ``JUPYTERHUB_*`` variables in ``env``.
    hub_auth: bool = False

    #: The hub's origin when it differs from the server's (users' subdomains), else "".
    hub_host: str = ""

    def hub_page_flags(self) -> list[str]:
        """Jupyter flags telling the server it runs under a hub (as jupyterhub-singleuser does).

        JupyterLab then links its hub menu to the hub and, above all, leaves the server's
        token out of the page it sends (``page_config.token`` is empty under a hub): the
        proxy adds the token to each request, so no browser ever holds it (issue 8,
        finding 9). Other ``ServerApp`` servers ignore these settings.
        """
        return [
            "--ServerApp.tornado_settings=hub_prefix=/hub/",
            f"--ServerApp.tornado_settings=hub_host={self.hub_host}",
            f"--ServerApp.tornado_settings=user={self.user}",
        ]


@dataclass
class ProgressEvent:
    """One step of a spawn, streamed to the user as Server-Sent Events."""

    progress: int  # 0..100
    message: str


@dataclass(frozen=True)
class ImagePolicy:
    """Which images a request may name: the deployment's default and the allowed patterns.

    Without it any image that happens to be on the machine could be run by anyone
    able to start a server.
    """

    #: The configured default image (always allowed); ``None`` = the builder's default.
    default: str | None = None
    #: Shell-style patterns ("bindery-r/*").
    allowed: tuple[str, ...] = ()

    def allows(self, image: str) -> bool:
        if self.default is not None and image == self.default:
            return True
        return any(fnmatch.fnmatchcase(image, pattern) for pattern in self.allowed)

    def check(self, image: str) -> None:
        """Raise :class:`ImageNotAllowed`, naming the allowed patterns, unless ``image`` may run."""
        if not self.allows(image):
            allowed = ", ".join(self.allowed) or "(none)"
            raise ImageNotAllowed(
                f"The image {image!r} is not allowed on this hub. Allowed images: "
                f"{allowed}. Launch a repository through Bindery to get an allowed image."
            )


@dataclass(frozen=True)
class SpawnerContext:
    """What the deployment gives every spawner, whatever its kind.

    Made by the composition root (:func:`bindery.composition.make_spawner_factory`);
    a spawner uses what it needs and ignores the rest (the local spawner needs no engine).
    """

    #: Label value marking this hub's servers, so several hubs can share one engine.
    hub_id: str
    #: Seconds for the server to be running once its image is there.
    start_timeout: float
    images: ImagePolicy = field(default_factory=ImagePolicy)
    #: The container engine (container spawners); ``None`` where the deployment has none.
    engine: Engine | None = None
    #: Makes (on first use) and names the default environment's image, for requests
    #: naming no image when no default image is configured.
    default_image: Callable[[], str] | None = None
    #: This hub instance's identity (a hash of its database URL), marked on every server
    #: it starts. Leftovers are swept only when it is set and only when they carry it: two
    #: instances side by side with the same ``hub_id`` never remove each other's servers.
    instance: str = ""

    def require_engine(self, spawner: str) -> Engine:
        """The engine, or an error saying the deployment did not provide one."""
        if self.engine is None:
            raise SpawnerError(
                f"The {spawner} spawner needs a container engine, but this hub was started "
                "without one. Start it with `bindery hub` or `bindery serve`."
            )
        return self.engine


class Spawner(ABC):
    """Start, stop and watch one Jupyter server."""

    #: Registered name, e.g. ``"docker"``.
    name: ClassVar[str]
    #: The spawner's own keys in ``[hub.spawner]``, beside ``kind``.
    options_model: ClassVar[type[PluginOptions]] = PluginOptions
    #: True when ``start`` enforces the start timeout itself. The Docker spawner does,
    #: because it may first build the default image (minutes), which is not "starting";
    #: for other spawners the hub bounds the whole ``start`` call.
    enforces_start_timeout: ClassVar[bool] = False

    def __init__(self, request: SpawnRequest, options: PluginOptions, context: SpawnerContext) -> None:
        if not isinstance(options, self.options_model):
            raise TypeError(
                f"{type(self).__name__} needs {self.options_model.__name__}, not {type(options).__name__}"
            )
        self.request = request
        self.options = options
        self.context = context

    @abstractmethod
    async def start(self) -> str:
        """Start the server and return the URL the proxy should route to.

        The URL must be reachable from this machine (e.g. ``http://127.0.0.1:PORT``);
        ``start`` returns once the process/container is running, the hub itself
        waits for the HTTP endpoint to answer.
        """

    @abstractmethod
    async def stop(self) -> None:
        """Stop and remove the server; must succeed if it is already gone."""

    @abstractmethod
    async def poll(self) -> int | None:
        """``None`` while running, else an exit status (0 when it was never started)."""

    def get_state(self) -> dict[str, Any]:
        """JSON-able facts needed to find the server again after a hub restart."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore what ``get_state`` returned (called before ``poll``/``stop``)."""

    async def exit_reason(self) -> str:
        """Why the server ended on its own, in words a person can act on, once ``poll``
        reports an exit ("exit status 137; it ran out of memory (limit 2g)"); "" when
        unknown (the default)."""
        return ""

    async def delete_forever(self) -> None:  # noqa: B027 - optional hook
        """Remove what outlives the server (a persistent home) when its user, or the
        named server itself, is deleted; called after ``stop``. Default: nothing."""

    async def log_tail(self, lines: int = 20) -> str:
        """The server's last output lines, to explain a failed start; default: none."""
        return ""

    @classmethod
    def sweep_leftovers(cls, known: set[tuple[str, str]], options: PluginOptions,
                        context: SpawnerContext) -> list[str]:
        """Remove servers of this hub that the database does not know (a hub killed in the
        middle of a start never recorded them); return what was removed, as
        ``user/server``. Called once at hub start, after known servers were reconciled.
        Default: nothing to find."""
        return []

    async def progress(self) -> AsyncIterator[ProgressEvent]:
        """Progress events while ``start`` runs; default: none."""
        return
        yield  # pragma: no cover  (makes this an async generator)


#: Every installed Spawner (entry-point group ``bindery.spawners``); ``[hub.spawner] kind``
#: names one. (mypy refuses an abstract class as ``type[T]``; the registry only checks subclasses.)
SPAWNERS: PluginGroup[Spawner] = PluginGroup("bindery.spawners", Spawner, "spawner")
