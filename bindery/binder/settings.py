"""Settings of the launch service (``[binder]`` in bindery.toml, ``BINDERY_BINDER__*``)."""

from __future__ import annotations

from pydantic import BaseModel


class BinderSettings(BaseModel):
    """Owned by the binder; extend with fields it needs, each with a sane default."""

    port: int = 8585
    ip: str = "127.0.0.1"
