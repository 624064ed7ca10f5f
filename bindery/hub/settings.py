"""Settings of the hub (``[hub]`` in bindery.toml, ``BINDERY_HUB__*`` env vars)."""

from __future__ import annotations

from pydantic import BaseModel


class HubSettings(BaseModel):
    """Owned by the hub; extend with fields the hub needs, each with a sane default."""

    port: int = 8000
    ip: str = "127.0.0.1"
