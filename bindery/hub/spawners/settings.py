"""Settings of spawners (image, limits, timeouts); a section of the hub settings."""

from __future__ import annotations

from pydantic import BaseModel


class SpawnerSettings(BaseModel):
    """Extend with the fields needed, each with a sane default."""
