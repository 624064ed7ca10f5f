"""GitHub (or GitHub Enterprise) OAuth apps: the user name is the GitHub ``login``.

The code flow itself is :mod:`bindery.hub.auth.oauth`; this module says where
GitHub's endpoints are and asks its API who the person is and, when groups are
configured, which organisations they belong to.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from bindery.hub.auth.base import AuthContext, AuthResult
from bindery.hub.auth.errors import LoginError
from bindery.hub.auth.oauth import (
    HTTP_TIMEOUT,
    AsyncOAuth2Client,
    OAuthAuthenticator,
    OAuthError,
    OAuthOptions,
    unreachable,
)
from bindery.plugins import PluginOptions


class GitHubOptions(OAuthOptions):
    """The ``github`` authenticator's keys in ``[hub.auth]``.

    ``allowed_groups`` / ``admin_groups`` name GitHub organisations (this asks for
    the ``read:org`` scope).
    """

    #: GitHub (or GitHub Enterprise) web and API base URLs.
    github_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"


class GitHubAuthenticator(OAuthAuthenticator):
    """Log in with a GitHub account; organisations act as groups."""

    name: ClassVar[str] = "github"
    options_model: ClassVar[type[PluginOptions]] = GitHubOptions
    login_service: ClassVar[str] = "GitHub"
    default_scopes: ClassVar[tuple[str, ...]] = ("read:user",)
    token_auth_method: ClassVar[str] = "client_secret_post"  # what GitHub documents

    def __init__(
        self,
        options: GitHubOptions,
        context: AuthContext,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = HTTP_TIMEOUT,
    ) -> None:
        super().__init__(options, context, transport=transport, timeout=timeout)
        self.github_url = options.github_url.rstrip("/")
        self.github_api_url = options.github_api_url.rstrip("/")
        # GitHub organisation names are case-insensitive; compare them lowercased.
        self.allowed_groups = {g.lower() for g in self.allowed_groups}
        self.admin_groups = {g.lower() for g in self.admin_groups}
        if (self.allowed_groups or self.admin_groups) and "read:org" not in self.scopes:
            self.scopes.append("read:org")

    async def endpoints(self) -> tuple[str, str]:
        return (
            f"{self.github_url}/login/oauth/authorize",
            f"{self.github_url}/login/oauth/access_token",
        )

    async def _api(self, client: AsyncOAuth2Client, path: str) -> Any:
        try:
            response = await client.get(
                f"{self.github_api_url}{path}", headers={"Accept": "application/vnd.github+json"}
            )
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, OAuthError, ValueError) as error:
            raise unreachable(error) from None

    async def identify(
        self, client: AsyncOAuth2Client, token: dict[str, Any], nonce: str
    ) -> AuthResult:
        user = await self._api(client, "/user")
        login = user.get("login") if isinstance(user, dict) else None
        if not login:
            raise LoginError(502, "Unexpected answer from GitHub", "GitHub did not say who you are.")
        orgs: list[str] = []
        if self.allowed_groups or self.admin_groups:
            data = await self._api(client, "/user/orgs")
            orgs = [str(o.get("login", "")).lower() for o in data if isinstance(o, dict)]
        return AuthResult(name=str(login), groups=orgs, info={"github_user": user})
