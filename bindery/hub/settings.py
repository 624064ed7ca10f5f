"""Settings of the hub (``[hub]`` in bindery.toml, ``BINDERY_HUB__*`` env vars)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, field_validator, model_validator

from bindery.config import Section
from bindery.hub.audit import AuditSettings
from bindery.hub.auth.settings import AuthSettings
from bindery.hub.origins import UserOrigins, normalise_subdomain_host
from bindery.hub.proxy.settings import HubProxySettings
from bindery.hub.roles import RoleSettings
from bindery.hub.services import ServiceSettings
from bindery.hub.spawners.settings import SpawnerSettings


class CullSettings(Section):
    """Built-in idle culling (``[hub.cull]``); off unless ``timeout`` > 0 or ``max_age`` > 0."""

    #: Stop servers idle for this many seconds (0 = never).
    timeout: float = Field(default=0.0, ge=0)
    #: Stop servers older than this many seconds, busy or not (0 = never).
    max_age: float = Field(default=0.0, ge=0)
    #: Seconds between two culling rounds.
    every: float = Field(default=60.0, gt=0)
    #: Also delete users of kind "temporary" once their servers are gone.
    temporary_users: bool = True


class HubSettings(Section):
    """Owned by the hub; every field has a default that runs on one machine."""

    #: Public port (the proxy listens here; the hub app itself is internal).
    port: int = 8000
    ip: str = "127.0.0.1"
    #: Where the hub app itself listens (only the proxy and services talk to it).
    hub_ip: str = "127.0.0.1"
    hub_port: int = Field(default=8081, ge=0, le=65535)
    #: How users' servers reach the hub's API ("" = the hub's own URL, right for servers on
    #: this machine); JupyterHub's ``hub_connect_url``. See docs/hub.md for containers.
    hub_connect_url: str = ""
    #: Public URL users see ("" = http://<ip>:<port>); https here makes cookies Secure.
    public_url: str = ""
    #: Give each user's server its own origin: ``"https://hub.example.org"`` serves the
    #: hub there and alice's server at ``https://alice.hub.example.org/user/alice/``
    #: (needs a wildcard DNS record and certificate; ``*.localhost`` works locally).
    #: "" = every server on the hub's origin (see docs/security.md for what that allows).
    subdomain_host: str = ""
    #: Label value marking this hub's containers, so several hubs can share one engine.
    hub_id: str = "bindery"
    #: This instance's state directory (set by the composition root from the top-level
    #: ``data_dir``): relative state paths live here, and so may other parts' files.
    data_dir: str = ""
    #: Stop every server when the hub stops (JupyterHub's ``cleanup_servers``). False
    #: keeps servers and the proxy running across a restart (an upgrade): the next
    #: start adopts the proxy and finds the servers again.
    cleanup_servers: bool = True
    #: Seconds between checks that running servers are still alive (a server that
    #: died, e.g. killed for using too much memory, is then shown as stopped, with why).
    server_poll_interval: float = Field(default=30.0, gt=0)
    #: SQLAlchemy URL of the hub database (SQLite file by default, postgresql+psycopg:// in
    #: production); a relative SQLite path is relative to the data directory.
    db_url: str = "sqlite:///bindery-hub.sqlite"
    #: An API token (scope admin) for the deployment's services, stored hashed at start;
    #: also ``$BINDERY_HUB_ADMIN_TOKEN``. At least 16 random characters.
    admin_token: str = ""
    #: Secret signing the login cookie ("" = read/create ``cookie_secret_file``).
    cookie_secret: str = ""
    #: Relative paths are relative to the data directory.
    cookie_secret_file: str = "bindery-hub-cookie-secret"
    #: Seconds a login cookie stays valid.
    cookie_max_age: int = Field(default=14 * 24 * 3600, gt=0)
    #: ``/hub/metrics`` needs a token (or login) with the ``read:metrics`` scope
    #: (JupyterHub's ``authenticate_prometheus``); false makes it public.
    authenticate_prometheus: bool = True
    #: Content-Security-Policy ``frame-ancestors`` value of hub pages.
    frame_ancestors: str = "'self'"
    #: Allow users to have named servers besides their default one.
    allow_named_servers: bool = True
    #: Named servers one user may have (0 = no limit).
    named_server_limit_per_user: int = Field(default=0, ge=0)
    #: Seconds a start request waits before answering 202 ("pending, follow the progress").
    slow_spawn_timeout: float = Field(default=10.0, ge=0)
    #: Seconds a stop request waits before answering 202.
    slow_stop_timeout: float = Field(default=10.0, ge=0)
    #: Seconds between polls of the proxy's route activity (feeds ``last_activity``).
    activity_poll_interval: float = Field(default=30.0, gt=0)
    #: Seconds the proxy may be slow before a route change counts as failed.
    proxy_timeout: float = Field(default=10.0, gt=0)
    #: Default page size of list endpoints; ``max_page_size`` bounds ``?limit``.
    default_page_size: int = Field(default=200, ge=1)
    max_page_size: int = Field(default=1000, ge=1)
    #: Scopes every user holds besides their own things (JupyterHub 6's option); the OAuth
    #: provider reads ``access:services`` / ``access:services!service=<name>`` from it.
    extra_user_scopes: list[str] = Field(default_factory=list)
    cull: CullSettings = Field(default_factory=CullSettings)
    proxy: HubProxySettings = Field(default_factory=HubProxySettings)
    spawner: SpawnerSettings = Field(default_factory=SpawnerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    #: JupyterHub services (``[[hub.services]]``): API tokens, ``/services/<name>/`` routes
    #: and OAuth clients (docs/hub.md).
    services: list[ServiceSettings] = Field(default_factory=list)
    #: JupyterHub's ``load_roles`` (``[[hub.roles]]``): scopes for users, groups, services.
    roles: list[RoleSettings] = Field(default_factory=list)
    audit: AuditSettings = Field(default_factory=AuditSettings)

    @field_validator("subdomain_host")
    @classmethod
    def _subdomain_host(cls, value: str) -> str:
        return normalise_subdomain_host(value)

    @model_validator(mode="after")
    def _route_by_host(self) -> Self:
        """Users' subdomains need the proxy to route by host and to log in on the hub's host."""
        if self.subdomain_host:
            if not self.proxy.host_routing:
                self.proxy.host_routing = True
            login = f"{self.subdomain_host}/hub/login"
            if self.proxy.login_url != login:
                self.proxy.login_url = login
        return self

    @property
    def origins(self) -> UserOrigins:
        """Where users' servers live (their own subdomains, or the hub's origin)."""
        return UserOrigins(self.subdomain_host)

    @field_validator("extra_user_scopes")
    @classmethod
    def _known_scopes(cls, value: list[str]) -> list[str]:
        from bindery.hub.scopes import ScopeError, check_scopes

        for scope in value:
            if scope == "access:services" or scope.startswith("access:services!service="):
                continue
            try:
                check_scopes([scope])
            except ScopeError as err:
                raise ValueError(f"extra_user_scopes: {err}") from err
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"public_url must start with http:// or https://, got {value!r}")
        return value.rstrip("/")

    @property
    def hub_url(self) -> str:
        """Internal URL of the hub app (what the proxy's default route points to)."""
        host = "127.0.0.1" if self.hub_ip in ("", "0.0.0.0") else self.hub_ip
        return f"http://{host}:{self.hub_port}"

    @property
    def effective_public_url(self) -> str:
        return self.public_url or self.subdomain_host or f"http://{self.ip}:{self.port}"
