"""The ``Proxy`` contract: what the hub needs from whatever routes ``/user/<name>/`` to servers.

Route specs follow JupyterHub's convention: the hub speaks of ``/user/alice/`` (with
the trailing slash); a client translates to its proxy's own form.

A third party adds a proxy client by subclassing :class:`Proxy` and registering it
in its own ``pyproject.toml``::

    [project.entry-points."bindery.proxies"]
    traefik = "my_package.traefik:TraefikProxy"

and the hub uses it with ``[hub.proxy] client = "traefik"``, its own keys in
``[hub.proxy.client_options]``. The hub builds every client the same way,
``cls(options)`` with the client's ``options_model`` (the hub's connection details plus
those keys), so a plugin needs no access to the hub's settings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import Field

from bindery.errors import BinderyError
from bindery.plugins import PluginGroup, PluginOptions


class ProxyError(BinderyError):
    """The proxy could not be started or reached, or refused a route change."""


class ProxyOptions(PluginOptions):
    """What the hub gives every proxy client: where the route API is and how to call it.

    A plugin needing more subclasses this as its ``options_model``; its own keys come
    from ``[hub.proxy.client_options]``.
    """

    #: Base URL of the proxy's route API, e.g. ``http://127.0.0.1:8001``.
    api_url: str
    #: Secret the route API expects (CHP's ``CONFIGPROXY_AUTH_TOKEN``); empty = none.
    auth_token: str = Field(default="", repr=False)
    #: Seconds one call to the route API may take before it counts as failed.
    timeout: float = Field(default=10.0, gt=0)


def routespec_to_path(routespec: str) -> str:
    """``/user/alice/`` → ``/user/alice`` (CHP's stored form); ``/`` stays ``/``."""
    path = routespec if routespec.startswith("/") else "/" + routespec
    return path.rstrip("/") or "/"


def path_to_routespec(path: str) -> str:
    """``/user/alice`` → ``/user/alice/`` (the hub's form)."""
    return path if path.endswith("/") else path + "/"


class Proxy(ABC):
    """What the hub needs from any proxy. Implement these to add a proxy plug-in.

    ``get_all_routes`` returns ``{routespec: {"routespec", "target", "data",
    "last_activity"}}`` where ``data`` is what was given to ``add_route`` and
    ``last_activity`` a timezone-aware ``datetime`` (or ``None`` if unknown).
    """

    #: The registered name (set from the entry point when empty).
    name: ClassVar[str] = ""
    #: The options this client is built with; subclass :class:`ProxyOptions` to add some.
    options_model: ClassVar[type[ProxyOptions]] = ProxyOptions

    def __init__(self, options: ProxyOptions) -> None:
        """Every client takes one typed options object, so the hub builds any plugin alike."""
        self.options = options

    @classmethod
    def from_options(cls, options: ProxyOptions) -> Self:
        """A client of this class for ``options``, re-validated as its own ``options_model``.

        The hub only knows the common :class:`ProxyOptions`; converting here gives a
        plugin its own options type (extra fields at their defaults) without the hub
        knowing which plugin it is building.
        """
        if not isinstance(options, cls.options_model):
            options = cls.options_model.model_validate(options.model_dump())
        return cls(options)

    @abstractmethod
    async def add_route(
        self, routespec: str, target: str, data: dict[str, Any] | None = None
    ) -> None:
        """Send requests under ``routespec`` to ``target``; replaces an existing route."""

    @abstractmethod
    async def delete_route(self, routespec: str) -> None:
        """Remove the route; removing a missing route is not an error."""

    @abstractmethod
    async def get_all_routes(
        self, inactive_since: datetime | None = None
    ) -> dict[str, dict[str, Any]]:
        """All routes, or only those idle since ``inactive_since``."""

    async def get_route(self, routespec: str) -> dict[str, Any] | None:
        """One route in the same shape as ``get_all_routes`` values, or ``None``."""
        return (await self.get_all_routes()).get(path_to_routespec(routespec_to_path(routespec)))

    async def aclose(self) -> None:  # noqa: B027 - a no-op default, not a forgotten abstractmethod
        """Release connections (no-op by default)."""


#: Every installed proxy client, by name (``rest`` is the built-in one).
PROXIES: PluginGroup[Proxy] = PluginGroup("bindery.proxies", Proxy, "proxy")
