"""Settings of authenticators (which one, allow/block/admin lists, OIDC); a section of the hub settings."""

from __future__ import annotations

from pydantic import BaseModel


class AuthSettings(BaseModel):
    """Extend with the fields needed, each with a sane default."""
