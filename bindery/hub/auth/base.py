"""The ``Authenticator`` contract: who is this person?

An authenticator only establishes identity; the hub then applies the
allow/block lists and admin users configured for it, creates the user on
first login and sets the login cookie. Authenticators are registered under the
entry-point group ``bindery.authenticators``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.routing import BaseRoute


@dataclass
class AuthResult:
    """A successfully identified person."""

    name: str
    admin: bool | None = None  # None: leave the stored admin flag alone
    groups: list[str] = field(default_factory=list)
    #: Extra facts (e.g. OIDC claims) kept for the deployment's own hooks.
    info: dict[str, Any] = field(default_factory=dict)


class Authenticator(ABC):
    """Identify a person from a login form or an external provider."""

    name: ClassVar[str]
    #: True when the login page should show a username/password form.
    uses_login_form: ClassVar[bool] = True
    #: For external providers: the name on the login button ("Sign in with GitHub");
    #: the button links to ``/hub/oauth_login?next=...``. Empty for form logins.
    login_service: ClassVar[str] = ""

    def __init__(
        self,
        *,
        allowed_users: set[str] | None = None,
        blocked_users: set[str] | None = None,
        admin_users: set[str] | None = None,
        **options: Any,
    ) -> None:
        # Names are compared in the form authenticators produce (trimmed, lowercase),
        # so "Alice" in a config file still matches the user "alice".
        self.allowed_users = {n.strip().lower() for n in allowed_users or ()}
        self.blocked_users = {n.strip().lower() for n in blocked_users or ()}
        self.admin_users = {n.strip().lower() for n in admin_users or ()}
        self.options = options

    @abstractmethod
    async def authenticate(self, request: Request, data: Mapping[str, str]) -> AuthResult | None:
        """Check submitted credentials (form fields); ``None`` means "wrong credentials"."""

    def routes(self) -> list[BaseRoute]:
        """Extra routes under /hub (e.g. an OAuth callback); default none."""
        return []

    def check_allowed(self, result: AuthResult) -> bool:
        """Apply block and allow lists (an empty allow list allows everyone not blocked)."""
        if result.name in self.blocked_users:
            return False
        return not self.allowed_users or result.name in self.allowed_users

    def is_admin(self, result: AuthResult) -> bool:
        return bool(result.admin) or result.name in self.admin_users
