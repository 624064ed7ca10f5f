"""The routing table: path prefix → target, matched by longest prefix per path segment.

Kept separate from the HTTP code so the matching rules (the part users notice when
``/user/alice/`` must not catch ``/user/alicex/``) are small and testable alone.
Paths are stored the way configurable-http-proxy stores them: leading slash, no
trailing slash (except ``/`` itself), so both proxies show the same route table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from yarl import URL


def clean_path(path: str) -> str:
    """Normalise a route path to CHP's form: ``/a/b`` (leading, no trailing slash)."""
    if not path.startswith("/"):
        path = "/" + path
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


def iso_timestamp(epoch: float) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``, as CHP (JavaScript Date) writes it."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(slots=True)
class Route:
    """One entry: where a prefix goes, the hub's data about it, when it was last used."""

    path: str
    target: str
    data: dict[str, Any] = field(default_factory=dict)
    last_activity: float = field(default_factory=time.time)
    #: Parsed once: requests are forwarded to ``origin`` + ``base_path`` + request path.
    origin: URL = field(init=False)
    base_path: str = field(init=False)

    def __post_init__(self) -> None:
        url = URL(self.target)
        self.origin = url.origin()
        self.base_path = url.raw_path.rstrip("/")

    @property
    def user(self) -> str | None:
        """The owner when the hub asked for edge authentication, else ``None``."""
        user = self.data.get("user")
        return user if isinstance(user, str) and user else None

    @property
    def service(self) -> str | None:
        """The service's name on a ``/services/<name>/`` route the hub added, else ``None``."""
        service = self.data.get("service")
        return service if isinstance(service, str) and service else None

    @property
    def server_token(self) -> str | None:
        token = self.data.get("server_token")
        return token if isinstance(token, str) and token else None

    def touch(self, now: float, resolution: float) -> None:
        """Record activity; at most one write per ``resolution`` seconds (cheap on hot paths)."""
        if now - self.last_activity >= resolution:
            self.last_activity = now

    def as_json(self) -> dict[str, Any]:
        """CHP's shape: ``{target, last_activity, ...data}``."""
        return {
            **self.data,
            "target": self.target,
            "last_activity": iso_timestamp(self.last_activity),
        }


class RouteTable:
    """Routes keyed by cleaned path. Lookup walks the request path's prefixes, longest first.

    Replacing the dict entry is atomic for the event loop, so adding or removing a
    route never disturbs requests or WebSockets already being relayed: they hold their
    own reference to the ``Route`` they started with.
    """

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    def __len__(self) -> int:
        return len(self._routes)

    def add(self, path: str, target: str, data: dict[str, Any] | None = None) -> Route:
        path = clean_path(path)
        route = Route(path=path, target=target, data=dict(data or {}))
        self._routes[path] = route
        return route

    def remove(self, path: str) -> bool:
        """Remove the route; ``False`` when there was none (the API answers 404)."""
        return self._routes.pop(clean_path(path), None) is not None

    def get(self, path: str) -> Route | None:
        return self._routes.get(clean_path(path))

    def all(self) -> dict[str, Route]:
        return dict(self._routes)

    def inactive_since(self, moment: float) -> dict[str, Route]:
        """Routes whose last activity is strictly before ``moment`` (epoch seconds)."""
        return {p: r for p, r in self._routes.items() if r.last_activity < moment}

    def match(self, request_path: str, host: str | None = None) -> Route | None:
        """Longest route whose path is a whole-segment prefix of ``request_path``.

        With ``host`` (host routing), routes under ``/<hostname>`` are tried first, as
        configurable-http-proxy's ``--host-routing`` keys them; the port is ignored.
        """
        if host:
            hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            hostname = hostname.lower().rstrip(".")
            if hostname and "/" not in hostname:
                found = self._match_either(f"/{hostname}{request_path}", stop_at=f"/{hostname}")
                if found is not None:
                    return found
        return self._match_either(request_path)

    def _match_either(self, request_path: str, stop_at: str = "/") -> Route | None:
        """The request path arrives decoded (``/user/josé/``); a route may have been
        registered decoded or percent-encoded as JupyterHub writes it
        (``/user/jos%C3%A9``): both forms are looked up, the longer match wins."""
        plain = self._match(request_path, stop_at)
        canonical = quote(request_path, safe="/@~")
        if canonical == request_path:
            return plain
        encoded = self._match(canonical, stop_at)
        if encoded is None or (plain is not None and len(plain.path) >= len(encoded.path)):
            return plain
        return encoded

    def _match(self, request_path: str, stop_at: str = "/") -> Route | None:
        routes = self._routes
        path = request_path.rstrip("/") or "/"
        while True:
            route = routes.get(path)
            if route is not None:
                return route
            if path == stop_at or path == "/":
                return None
            cut = path.rfind("/")
            path = path[:cut] if cut > 0 else "/"
