"""Settings of the built-in proxy and the proxy client; a section of the hub settings."""

from __future__ import annotations

from pydantic import BaseModel


class ProxySettings(BaseModel):
    """Extend with the fields needed, each with a sane default."""
