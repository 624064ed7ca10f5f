"""The ``Spawner`` contract: how one user's Jupyter server is started and stopped.

One Spawner instance manages one server (a user's default server or one of
their named servers). The hub persists ``get_state()`` in its database so that
after a hub restart a new instance, given the saved state via ``load_state``,
finds the same server again (``poll``) instead of starting a second one.
Spawners are registered under the entry-point group ``bindery.spawners``.

The server must serve Jupyter under ``base_url`` and require ``api_token``
(``Authorization: token <api_token>``): the proxy injects that header for
authenticated users, so the token never reaches a browser.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar


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


@dataclass
class ProgressEvent:
    """One step of a spawn, streamed to the user as Server-Sent Events."""

    progress: int  # 0..100
    message: str


class Spawner(ABC):
    """Start, stop and watch one Jupyter server."""

    #: Registered name, e.g. ``"docker"``.
    name: ClassVar[str]
    #: True when ``start`` enforces the start timeout itself. The Docker spawner does,
    #: because it may first build the default image (minutes), which is not "starting";
    #: for other spawners the hub bounds the whole ``start`` call.
    enforces_start_timeout: ClassVar[bool] = False

    def __init__(self, request: SpawnRequest, **options: Any) -> None:
        self.request = request
        self.options = options

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

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what ``get_state`` returned (called before ``poll``/``stop``)."""

    async def log_tail(self, lines: int = 20) -> str:
        """The server's last output lines, to explain a failed start; default: none."""
        return ""

    async def progress(self) -> AsyncIterator[ProgressEvent]:
        """Progress events while ``start`` runs; default: none."""
        return
        yield  # pragma: no cover  (makes this an async generator)
