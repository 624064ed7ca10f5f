"""Settings of authenticators (``[hub.auth]`` in bindery.toml, ``BINDERY_HUB__AUTH__<KEY>``).

The section's own keys are the ones every authenticator shares: which one
(``kind``), the allow/block/admin lists and the login rate limit. The chosen
authenticator's own keys sit beside them in the same table
(``min_password_length = 10`` for ``kind = "password"``) and are checked against
its ``options_model``: a key that neither knows, or one of another authenticator,
stops the start with the key named. Secrets (passwords, client secret) are
``SecretStr``: they print as ``**********`` in logs, reprs and error messages;
put them in env vars, not in the file.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from bindery.config import PluginSection
from bindery.hub.auth.base import AUTHENTICATORS, AuthContext, Authenticator, SessionFactory
from bindery.hub.auth.ratelimit import LoginRateLimiter
from bindery.plugins import PluginGroup


class AuthSettings(PluginSection):
    """Who may log in to the hub, and how."""

    plugin_group: ClassVar[PluginGroup[Any]] = AUTHENTICATORS

    #: Registered authenticator name: "password" (own accounts, the hub default),
    #: "shared-password" (workshops), "oidc", "github", or "anonymous" (Binder: a
    #: fresh temporary user per visit, what ``bindery serve`` uses).
    kind: str = "password"
    #: Only these names may log in (empty: everyone the authenticator accepts).
    allowed_users: set[str] = Field(default_factory=set)
    #: Never these names, even when allowed.
    blocked_users: set[str] = Field(default_factory=set)
    #: These names are admins (shared-password: only with the admin password).
    admin_users: set[str] = Field(default_factory=set)

    # -- login rate limiting (POST /hub/login)
    login_max_failures: int = 5
    login_window_seconds: float = 60.0

    def make_authenticator(self, session_factory: SessionFactory | None, cookie_secret: str) -> Authenticator:
        """The configured authenticator, with its own options and what the hub gives every one."""
        context = AuthContext(
            allowed_users=frozenset(self.allowed_users),
            blocked_users=frozenset(self.blocked_users),
            admin_users=frozenset(self.admin_users),
            session_factory=session_factory,
            cookie_secret=cookie_secret,
        )
        cls = AUTHENTICATORS.load(self.kind)
        return cls(self.options, context)

    def rate_limiter(self) -> LoginRateLimiter:
        """A limiter with the configured window (one per hub process)."""
        return LoginRateLimiter(self.login_max_failures, self.login_window_seconds)
