"""The hub's ``[hub.proxy]`` section: the proxy's own options plus what only the hub decides.

The hub starts (or finds) a proxy process and drives it with a client plugin; both
choices are the hub's, so they live here and not in ``bindery.proxy``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from bindery.hub.proxy.base import PROXIES
from bindery.proxy.settings import ProxySettings


class HubProxySettings(ProxySettings):
    """``[hub.proxy]``: which proxy process runs, which client drives it, and its options."""

    #: Which process the hub runs: ``builtin`` is Bindery's own proxy (``bindery proxy``),
    #: ``chp`` configurable-http-proxy; ``external`` means one is already running at
    #: ``api_url`` (the hub only talks to it).
    kind: Literal["builtin", "chp", "external"] = "builtin"
    #: The proxy client plugin (entry point in ``bindery.proxies``) the hub drives it with;
    #: ``rest`` speaks configurable-http-proxy's REST API, which every ``kind`` above serves.
    client: str = "rest"

    @field_validator("client")
    @classmethod
    def _installed(cls, value: str) -> str:
        """A misspelt client fails when the configuration is read, not when the hub starts."""
        names = PROXIES.names()
        if value not in names:
            known = ", ".join(names) or "(none installed)"
            raise ValueError(f"no proxy client named {value!r} is installed (available: {known})")
        return value
