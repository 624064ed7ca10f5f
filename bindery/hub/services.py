"""JupyterHub services: external programs the hub knows by name, token and (maybe) URL.

A service is declared in ``[[hub.services]]``. Its ``api_token`` is registered
(hashed) at start with the service's ``scopes``, so it can call the hub API as that
service; with a ``url`` the hub also routes ``/services/<name>/`` to it through the
proxy, as JupyterHub does. Hub-managed services (a ``command`` the hub runs) are not
supported: run the program yourself and declare it with its URL. A service with a token
is also an OAuth client (``service-<name>``, its token the client secret), so it can log
users in through the hub as JupyterHub's ``HubOAuth`` does (``bindery.hub.oauth_provider``).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from bindery.config import Section
from bindery.hub.names import InvalidName, check_name, url_escape
from bindery.hub.scopes import ScopeError, check_scopes


class ServiceSettings(Section):
    """One ``[[hub.services]]`` entry."""

    #: The service's name: its API identity and its ``/services/<name>/`` address.
    name: str
    #: Where the service listens ("" = it has no web address, only an API token).
    url: str = ""
    #: The token the service uses on the hub API (at least 16 random characters; "" = none).
    api_token: str = Field(default="", repr=False)
    #: What the service's token may do (JupyterHub scopes; its roles, in JupyterHub terms).
    scopes: list[str] = Field(default_factory=list)
    #: Shown to users on the home page when it has a url.
    display: bool = True
    #: Free-form facts handed out in the service's model (``info``).
    info: dict[str, Any] = Field(default_factory=dict)
    #: OAuth client id ("" = ``service-<name>``).
    oauth_client_id: str = ""
    #: Where the hub sends the browser back with a code; must match a request's
    #: ``redirect_uri`` exactly ("" = ``/services/<name>/oauth_callback``).
    oauth_redirect_uri: str = ""
    #: Scopes the service may ask for on a user's behalf, besides identifying the user
    #: and accessing the service itself (a user only ever grants what they hold).
    oauth_client_allowed_scopes: list[str] = Field(default_factory=list)
    #: Skip the consent page for this service (a service the deployment runs and trusts).
    oauth_no_confirm: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            checked = check_name(value, "service name")
        except InvalidName as err:
            raise ValueError(str(err)) from err
        if checked != value:
            raise ValueError(f"service name {value!r} must be written in its normal form "
                             f"({checked!r})")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"a service url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @field_validator("api_token")
    @classmethod
    def _token(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("a service api_token must have at least 16 random characters")
        return value

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        try:
            return check_scopes(value)
        except ScopeError as err:
            raise ValueError(str(err)) from err

    @field_validator("oauth_redirect_uri")
    @classmethod
    def _redirect(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://", "/")):
            raise ValueError(f"oauth_redirect_uri {value!r} must be an http(s) URL or a path "
                             "starting with '/'")
        return value

    @model_validator(mode="after")
    def _oauth_needs_token(self) -> Self:
        if (self.oauth_client_id or self.oauth_redirect_uri) and not self.api_token:
            raise ValueError(f"service {self.name!r} has OAuth settings but no api_token: the "
                             "token is its OAuth client secret")
        return self

    @property
    def client_id(self) -> str:
        return self.oauth_client_id or f"service-{self.name}"

    @property
    def redirect_uri(self) -> str:
        return self.oauth_redirect_uri or f"/services/{self.name}/oauth_callback"

    @property
    def uses_oauth(self) -> bool:
        """A service with a token can log users in (JupyterHub gives every such service a client)."""
        return bool(self.api_token)

    @property
    def prefix(self) -> str:
        """``/services/<name>/`` when the service has a url, else ""."""
        return f"/services/{url_escape(self.name)}/" if self.url else ""


def service_model(service: ServiceSettings | None, name: str) -> dict[str, Any]:
    """JupyterHub's service model; ``None`` for a token-only service not in the config
    (such as the deployment's ``$BINDERY_HUB_ADMIN_TOKEN``)."""
    return {
        "kind": "service",
        "name": name,
        "admin": bool(service is None or "admin" in service.scopes),
        "roles": [],
        "url": service.url if service else "",
        "prefix": service.prefix if service else "",
        "command": [],
        "pid": 0,
        "info": dict(service.info) if service else {},
        "display": service.display if service else False,
    }
