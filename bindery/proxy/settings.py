"""Options of the built-in proxy: where it listens, where it asks about logins, how it relays.

Names and defaults mirror configurable-http-proxy (CHP) so a deployment can swap
one for the other without relearning anything: public ``ip``/``port``, route API on
``api_ip``/``api_port``, API token as ``CONFIGPROXY_AUTH_TOKEN`` gives it.

The hub's ``[hub.proxy]`` section extends this class with what only the hub
decides (which process to run, which client drives it); see
``bindery.hub.proxy.settings``.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from bindery.config import Section


class ProxySettings(Section):
    """Where the proxy listens, how the hub reaches its API, and edge-auth tuning.

    Nothing here reads the environment: whoever starts the proxy passes every value
    in (``bindery proxy`` reads ``CONFIGPROXY_AUTH_TOKEN`` once at start; the hub's
    configuration loader maps the same variable to ``[hub.proxy] auth_token``).
    """

    #: Public address users connect to.
    ip: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    #: Route API address (keep it on loopback: it changes where traffic goes).
    api_ip: str = "127.0.0.1"
    api_port: int = Field(default=8001, ge=0, le=65535)
    #: Where requests go when no route matches (usually the hub, e.g. http://127.0.0.1:8081).
    default_target: str | None = None
    #: Hub endpoint deciding whether a request may reach a user's server (edge auth).
    auth_url: str | None = None
    #: Route-API token (CHP's ``CONFIGPROXY_AUTH_TOKEN``); empty means the API accepts anyone.
    auth_token: str = ""
    #: Seconds a positive answer of the hub's auth endpoint is reused.
    auth_cache_ttl: float = Field(default=30.0, ge=0)
    #: How many positive answers are remembered (LRU); bounds memory under many users.
    auth_cache_size: int = Field(default=4096, ge=0)
    #: ``last_activity`` is written at most once per this many seconds per route.
    activity_resolution: float = Field(default=1.0, ge=0)
    #: Seconds to wait for an upstream to accept a connection before answering 503.
    connect_timeout: float = Field(default=10.0, gt=0)
    #: Largest WebSocket message relayed (bytes); Jupyter outputs can be big.
    max_ws_message: int = Field(default=256 * 1024 * 1024, ge=0)
    #: The hub's login page (401 for browsers redirect there): a path, or a whole URL when
    #: the hub lives on its own host (users' servers on subdomains).
    login_url: str = "/hub/login"
    #: Cookie holding the hub session; stripped before requests reach user servers
    #: (with every other hub cookie, see ``bindery.proxy.cookies``).
    session_cookie: str = "bindery-session"
    #: Match routes by host too (CHP's ``--host-routing``): a route
    #: ``/alice.hub.example/user/alice`` serves only requests to that host; routes
    #: without a host part serve every host.
    host_routing: bool = False

    @field_validator("default_target", "auth_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """Catch typos at start rather than at the first request."""
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value

    @property
    def api_url(self) -> str:
        """Base URL of the route API as the hub should call it."""
        host = "127.0.0.1" if self.api_ip in ("", "0.0.0.0") else self.api_ip
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.api_port}"
