"""JupyterHub services: external programs the hub knows by name, token and (maybe) URL.

A service is declared in ``[[hub.services]]``. Its ``api_token`` is registered
(hashed) at start with the service's ``scopes``, so it can call the hub API as that
service; with a ``url`` the hub also routes ``/services/<name>/`` to it through the
proxy, as JupyterHub does. Hub-managed services (a ``command`` the hub runs) are not
supported: run the program yourself and declare it with its URL.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

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
