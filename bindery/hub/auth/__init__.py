"""Authenticators: who is this person? (registry of the ``bindery.authenticators`` entry points).

Third parties add an authenticator by declaring an entry point in that group;
built-ins are registered the same way in Bindery's own ``pyproject.toml``.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from bindery.hub.auth.base import AuthResult, Authenticator
from bindery.hub.auth.errors import AuthConfigError

ENTRY_POINT_GROUP = "bindery.authenticators"

__all__ = [
    "ENTRY_POINT_GROUP",
    "AuthConfigError",
    "AuthResult",
    "Authenticator",
    "available_authenticators",
    "load_authenticator",
]


def available_authenticators() -> list[str]:
    """Names usable as ``[hub.auth] kind``, sorted (for error messages and ``--help``)."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_authenticator(name: str, **options: Any) -> Authenticator:
    """Create the authenticator registered as ``name`` with ``options``.

    An unknown name fails with the list of known ones, because a typo in the
    config file is by far the most common cause.
    """
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(available_authenticators()) or "(none installed)"
        raise AuthConfigError(f"Unknown authenticator {name!r}. Known authenticators: {known}.")
    cls = matches[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Authenticator)):
        raise AuthConfigError(
            f"The entry point {name!r} ({matches[0].value}) is not an Authenticator class."
        )
    return cls(**options)
