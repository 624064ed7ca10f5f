"""Settings of the hub (``[hub]`` in bindery.toml, ``BINDERY_HUB__*`` env vars)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from bindery.hub.auth.settings import AuthSettings
from bindery.hub.proxy.settings import ProxySettings
from bindery.hub.spawners.settings import SpawnerSettings


class HubSettings(BaseModel):
    """Owned by the hub; extend with fields the hub needs, each with a sane default."""

    #: Public port (the proxy listens here; the hub app itself is internal).
    port: int = 8000
    ip: str = "127.0.0.1"
    proxy: ProxySettings = Field(default_factory=ProxySettings)
    spawner: SpawnerSettings = Field(default_factory=SpawnerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
