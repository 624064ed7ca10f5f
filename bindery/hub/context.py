"""What request handlers may use of the running hub, and the one way they get it.

Handlers (API routes, pages, authenticators' callbacks) receive the hub through
``request.app.state.hub``. :func:`hub_of` gives it a type: :class:`HubContext`, the
part of ``bindery.hub.app.Hub`` that handlers need. It is a Protocol so that handler
modules do not import the module that assembles the app from them (no import circle);
``build_app`` checks that its ``Hub`` satisfies it.
"""

from __future__ import annotations

from typing import Protocol, cast

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from bindery.hub.auth.base import Authenticator
from bindery.hub.auth.ratelimit import LoginRateLimiter
from bindery.hub.db.models import User
from bindery.hub.handoff import HandoffCodes
from bindery.hub.metrics import HubMetrics
from bindery.hub.origins import UserOrigins
from bindery.hub.proxy.base import Proxy
from bindery.hub.security import SessionSigner
from bindery.hub.servers import ServerManager
from bindery.hub.settings import HubSettings


class HubContext(Protocol):
    """The running hub as handlers see it."""

    @property
    def settings(self) -> HubSettings: ...

    @property
    def metrics(self) -> HubMetrics: ...

    @property
    def db(self) -> sessionmaker[Session]: ...

    @property
    def manager(self) -> ServerManager:
        """The domain service of users' servers: ask it, never the rows, what a server does."""
        ...

    @property
    def proxy(self) -> Proxy | None: ...

    @property
    def authenticator(self) -> Authenticator: ...

    @property
    def signer(self) -> SessionSigner: ...

    @property
    def secure_cookies(self) -> bool: ...

    @property
    def handoffs(self) -> HandoffCodes:
        """One-time codes handing a login over to a user's server (see hub/handoff.py)."""
        ...

    @property
    def origins(self) -> UserOrigins:
        """Where users' servers live: the hub's origin or their own subdomains."""
        ...

    @property
    def login_limiter(self) -> LoginRateLimiter: ...

    def get_or_create_user(
        self, name: str, *, admin: bool | None = None, kind: str = "user"
    ) -> User: ...

    def login_cookie(self, name: str) -> str:
        """Start a server-side login of ``name``; the session cookie's value."""
        ...


def hub_of(connection: HTTPConnection) -> HubContext:
    """The hub serving this request."""
    return cast(HubContext, connection.app.state.hub)
