"""The hub's ``[hub.proxy]`` section: the proxy's own options plus what only the hub decides.

The hub starts (or finds) a proxy process and drives it with a client plugin; both
choices are the hub's, so they live here and not in ``bindery.proxy``.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, ValidationError, field_validator, model_validator

from bindery.config import plugin_option_error
from bindery.hub.proxy.base import PROXIES, Proxy, ProxyOptions
from bindery.proxy.settings import ProxySettings


class HubProxySettings(ProxySettings):
    """``[hub.proxy]``: which proxy process runs, which client drives it, and its options."""

    #: Which process the hub runs: ``builtin`` is Bindery's own proxy (``bindery proxy``),
    #: ``chp`` configurable-http-proxy; ``nginx`` the operating system's nginx (client
    #: ``nginx``, docs/proxy.md); ``external`` means one is already running at
    #: ``api_url`` (the hub only talks to it).
    kind: Literal["builtin", "chp", "nginx", "external"] = "builtin"
    #: The proxy client plugin (entry point in ``bindery.proxies``) the hub drives it with;
    #: ``rest`` speaks configurable-http-proxy's REST API, which every ``kind`` above serves.
    client: str = "rest"
    #: The client plugin's own keys (``[hub.proxy.client_options]``), checked against its
    #: ``options_model``; where the API is, its token and the timeout are the hub's.
    client_options: dict[str, Any] = Field(default_factory=dict)
    #: Seconds between checks that the proxy the hub started still runs; a dead one is
    #: started again on the same ports and its routes restored (JupyterHub does the same
    #: every 5 s). 0 turns the check off.
    check_interval: float = Field(default=5.0, ge=0)

    @field_validator("client")
    @classmethod
    def _installed(cls, value: str) -> str:
        """A misspelt client fails when the configuration is read, not when the hub starts."""
        names = PROXIES.names()
        if value not in names:
            known = ", ".join(names) or "(none installed)"
            raise ValueError(f"no proxy client named {value!r} is installed (available: {known})")
        return value

    @model_validator(mode="before")
    @classmethod
    def _nginx_takes_its_client(cls, data: Any) -> Any:
        """``kind = "nginx"`` alone is enough: nginx has no route API, only its own client."""
        if isinstance(data, dict) and data.get("kind") == "nginx" and "client" not in data:
            return {**data, "client": "nginx"}
        return data

    @model_validator(mode="after")
    def _client_options_fit(self) -> Self:
        """A key the client does not know fails when the configuration is read."""
        try:
            self._client_options_for(PROXIES.load(self.client), timeout=10.0)
        except ValidationError as exc:
            raise plugin_option_error(exc, f"an option of the {self.client!r} proxy client",
                                      "client_options.") from exc
        return self

    def _client_options_for(self, cls: type[Proxy], timeout: float) -> ProxyOptions:
        hub_owned = {"api_url", "auth_token", "timeout"} & set(self.client_options)
        if hub_owned:
            raise ValueError(f"client_options cannot set {', '.join(sorted(hub_owned))}: "
                             "the hub sets them from [hub.proxy] and [hub]")
        return cls.options_model.model_validate({
            "api_url": self.api_url, "auth_token": self.auth_token, "timeout": timeout,
            **self.client_options,
        })

    def make_client(self, timeout: float) -> Proxy:
        """The configured client, with the hub's connection details and its own keys."""
        cls = PROXIES.load(self.client)
        return cls(self._client_options_for(cls, timeout))
