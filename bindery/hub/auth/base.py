"""The ``Authenticator`` contract: who is this person?

An authenticator only establishes identity. The hub gives it what every
authenticator may use (:class:`AuthContext`: the allow/block/admin lists, the hub
database, the cookie secret) and its own validated options; it answers with an
:class:`AuthResult`. The hub, never the authenticator, turns a result into a
session: it creates the user on first login, sets the login cookie and redirects.

There are three ways to log in, and a plugin picks by what it implements:

* a **form** (``uses_login_form``): the hub's login page posts username and
  password, the hub calls :meth:`Authenticator.authenticate`;
* **on visit** (``login_on_visit``): opening the login page logs a new person in
  (Binder's temporary users), again through :meth:`~Authenticator.authenticate`;
* an **external provider**: the login page links to :meth:`~Authenticator.login_url`;
  the authenticator's own :meth:`~Authenticator.routes` (under ``/hub``) talk to the
  provider and end by returning a :class:`CompletedLogin` (or raising
  :class:`~bindery.hub.auth.errors.LoginError`), which the hub turns into a session.

Authenticators are registered under the entry-point group ``bindery.authenticators``
(:data:`AUTHENTICATORS`); built-ins are registered the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from bindery.hub.auth.names import normalize_username
from bindery.plugins import PluginGroup, PluginOptions

if TYPE_CHECKING:  # settings import this module: keep the web and database libraries out
    from sqlalchemy.orm import Session
    from starlette.requests import Request
    from starlette.responses import Response

#: Where the hub mounts every authenticator route (``/oauth_login`` is served at ``/hub/oauth_login``).
HUB_PREFIX = "/hub"

#: Opens a session on the hub database (the hub passes its ``sessionmaker``).
SessionFactory: TypeAlias = "Callable[[], AbstractContextManager[Session]]"


@dataclass
class AuthResult:
    """A successfully identified person."""

    name: str
    admin: bool | None = None  # None: leave the stored admin flag alone
    groups: list[str] = field(default_factory=list)
    #: A throw-away user (Binder links): the hub stores it as kind "temporary" and culls it.
    temporary: bool = False
    #: Extra facts (e.g. OIDC claims) kept for the deployment's own hooks.
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CompletedLogin:
    """What an external login route hands back to the hub: who, and where to go next.

    ``next_url`` is checked again by the hub (only same-site paths are followed).
    """

    result: AuthResult
    next_url: str


#: An authenticator route's handler: a plain response while the login is under way
#: (a redirect to the provider), or the finished login for the hub to take over.
LoginStep: TypeAlias = "Callable[[Request], Awaitable[Response | CompletedLogin]]"


@dataclass(frozen=True)
class LoginRoute:
    """One route of an authenticator, served by the hub at ``HUB_PREFIX + path``."""

    path: str
    endpoint: LoginStep
    methods: tuple[str, ...] = ("GET",)
    name: str | None = None


def _names(raw: frozenset[str]) -> frozenset[str]:
    return frozenset(normalize_username(name) for name in raw)


@dataclass(frozen=True)
class AuthContext:
    """What the hub gives every authenticator, whichever it is.

    Names are kept in the form authenticators produce (trimmed, lowercase), so
    "Alice" in a config file still matches the user "alice".
    """

    #: Only these names may log in (empty: everyone the authenticator accepts).
    allowed_users: frozenset[str] = frozenset()
    #: Never these names, even when allowed.
    blocked_users: frozenset[str] = frozenset()
    #: These names are admins (each authenticator may narrow this; see ``is_admin``).
    admin_users: frozenset[str] = frozenset()
    #: The hub database, for authenticators that keep their own table (password).
    session_factory: SessionFactory | None = None
    #: The hub's cookie secret, to sign short-lived login state that must survive
    #: restarts and several workers ("" = a random per-process key).
    cookie_secret: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        for name in ("allowed_users", "blocked_users", "admin_users"):
            object.__setattr__(self, name, _names(getattr(self, name)))


class Authenticator(ABC):
    """Identify a person from a login form, a visit, or an external provider."""

    #: The registered name (set from the entry point when the class does not say).
    name: ClassVar[str]
    #: The plugin's own keys in ``[hub.auth]``, beside ``kind`` and the shared lists.
    options_model: ClassVar[type[PluginOptions]] = PluginOptions
    #: True when the login page should show a username/password form.
    uses_login_form: ClassVar[bool] = True
    #: True when opening the login page is the login: the hub calls
    #: ``authenticate(request, {})`` at once (temporary users for Binder links).
    login_on_visit: ClassVar[bool] = False
    #: For external providers: the provider's name for people ("GitHub"). Empty for form logins.
    login_service: ClassVar[str] = ""

    def __init__(self, options: PluginOptions, context: AuthContext) -> None:
        self.options = options
        self.context = context
        self.allowed_users = context.allowed_users
        self.blocked_users = context.blocked_users
        self.admin_users = context.admin_users

    @abstractmethod
    async def authenticate(self, request: Request, data: Mapping[str, str]) -> AuthResult | None:
        """Check submitted credentials (form fields); ``None`` means "wrong credentials"."""

    def login_url(self, next_url: str) -> str | None:
        """Where the login page's button sends the browser; ``None``: no button (form or visit)."""
        return None

    def routes(self) -> list[LoginRoute]:
        """This authenticator's own routes under ``/hub`` (an OAuth start and callback); default none."""
        return []

    def end_login(self, request: Request, response: Response) -> None:  # noqa: B027 - optional hook
        """Called on the hub's answer once a login through :meth:`routes` ended, well or not.

        The place to drop per-login state the authenticator set (e.g. a state cookie).
        """

    def check_allowed(self, result: AuthResult) -> bool:
        """Apply block and allow lists (an empty allow list allows everyone not blocked)."""
        if result.name in self.blocked_users:
            return False
        return not self.allowed_users or result.name in self.allowed_users

    def is_admin(self, result: AuthResult) -> bool:
        return bool(result.admin) or result.name in self.admin_users


#: Every installed authenticator, by the name ``[hub.auth] kind`` uses.
AUTHENTICATORS: PluginGroup[Authenticator] = PluginGroup(
    "bindery.authenticators", Authenticator, "authenticator"
)
