"""``[[hub.services]]``: services the hub knows, as far as OAuth needs them (a minimal section).

Each entry is a JupyterHub-style external service: its name, where it runs, the API
token the deployment gave it and, for browser login, its OAuth client. Keys follow
JupyterHub's ``c.JupyterHub.services`` entries. (The REST API's services may widen this
section; the OAuth provider reads only the keys below.)
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, field_validator, model_validator

from bindery.config import Section

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class ServiceSettings(Section):
    """One ``[[hub.services]]`` entry."""

    #: The service's name (lowercase letters, digits, ``.``, ``_``, ``-``).
    name: str
    #: Where the service runs (informational here; the default redirect URI is under
    #: ``/services/<name>/`` as in JupyterHub).
    url: str = ""
    #: The service's API token (at least 16 random characters); it is also the OAuth
    #: client secret, as ``HubOAuth`` sends it.
    api_token: str = ""
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
        if not _NAME.match(value):
            raise ValueError(f"service name {value!r} must be 1-63 lowercase letters, digits, "
                             "'.', '_' or '-', starting with a letter or digit")
        return value

    @field_validator("oauth_redirect_uri")
    @classmethod
    def _redirect(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://", "/")):
            raise ValueError(f"oauth_redirect_uri {value!r} must be an http(s) URL or a path "
                             "starting with '/'")
        return value

    @model_validator(mode="after")
    def _token(self) -> Self:
        if self.api_token and len(self.api_token) < 16:
            raise ValueError(f"the api_token of service {self.name!r} is too short: use at "
                             "least 16 random characters")
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
