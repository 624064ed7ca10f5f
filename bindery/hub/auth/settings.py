"""Settings of authenticators (which one, allow/block/admin lists, OIDC); a section of the hub settings.

``[hub.auth]`` in bindery.toml or ``BINDERY_HUB__AUTH__<FIELD>`` env vars.
Secrets (passwords, client secret) are ``SecretStr``: they print as ``**********``
in logs, reprs and error messages; put them in env vars, not in the file.
"""

from __future__ import annotations

from typing import Any

from bindery.config import Section
from pydantic import BaseModel, Field, SecretStr

from bindery.hub.auth.ratelimit import LoginRateLimiter


class AuthSettings(Section):
    """Who may log in to the hub, and how."""

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

    # -- password
    min_password_length: int = 8

    # -- shared-password
    shared_password: SecretStr | None = None
    admin_password: SecretStr | None = None

    # -- OAuth (oidc and github share client_id / client_secret / redirect_url)
    #: Issuer URL; its ``/.well-known/openid-configuration`` is read at first use.
    oidc_issuer: str = ""
    client_id: str = ""
    client_secret: SecretStr | None = None
    #: Public callback URL registered with the provider, e.g.
    #: ``https://hub.example.org/hub/oauth_callback`` ("" = derived from the request).
    redirect_url: str = ""
    #: OIDC scopes ("openid" is always added); GitHub asks for read:user (+ read:org for groups).
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    #: ID-token claim that becomes the user name (falls back to ``sub``).
    username_claim: str = "preferred_username"
    #: ID-token / userinfo claim listing the person's groups.
    groups_claim: str = "groups"
    #: When set, only members of one of these groups may log in.
    allowed_groups: set[str] = Field(default_factory=set)
    #: Members of these groups are admins.
    admin_groups: set[str] = Field(default_factory=set)
    #: GitHub (or GitHub Enterprise) web and API base URLs for the github preset.
    github_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"

    # -- login rate limiting (POST /hub/login)
    login_max_failures: int = 5
    login_window_seconds: float = 60.0

    def authenticator_options(self) -> dict[str, Any]:
        """Keyword arguments for ``load_authenticator(self.kind, **options)``."""
        common: dict[str, Any] = {
            "allowed_users": set(self.allowed_users),
            "blocked_users": set(self.blocked_users),
            "admin_users": set(self.admin_users),
        }
        oauth: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_url": self.redirect_url,
            "allowed_groups": set(self.allowed_groups),
            "admin_groups": set(self.admin_groups),
        }
        per_kind: dict[str, dict[str, Any]] = {
            "password": {"min_password_length": self.min_password_length},
            "shared-password": {
                "shared_password": self.shared_password,
                "admin_password": self.admin_password,
            },
            "oidc": {
                **oauth,
                "issuer": self.oidc_issuer,
                "scopes": list(self.scopes),
                "username_claim": self.username_claim,
                "groups_claim": self.groups_claim,
            },
            "github": {
                **oauth,
                "github_url": self.github_url,
                "github_api_url": self.github_api_url,
            },
        }
        return {**common, **per_kind.get(self.kind, {})}

    def build_authenticator(self, **extra: Any) -> Any:
        """The configured authenticator; ``extra`` carries what the hub owns (``session_factory``)."""
        from bindery.hub.auth import load_authenticator

        options = self.authenticator_options()
        if self.kind != "password":
            extra.pop("session_factory", None)
            extra.pop("db_url", None)
        return load_authenticator(self.kind, **{**options, **extra})

    def rate_limiter(self) -> LoginRateLimiter:
        """A limiter with the configured window (one per hub process)."""
        return LoginRateLimiter(self.login_max_failures, self.login_window_seconds)
