"""Reading secrets that may arrive wrapped (pydantic ``SecretStr``) or plain (Python callers)."""

from __future__ import annotations

from typing import Any


def secret_value(value: Any) -> str:
    """The secret as text ("" when unset); settings keep it wrapped so it never prints."""
    if value is None:
        return ""
    getter = getattr(value, "get_secret_value", None)
    return getter() if getter else str(value)
