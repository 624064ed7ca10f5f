"""User-name rules shared by the authenticators.

The hub uses the name in URLs (``/user/<name>/``), container names and DB keys,
so every authenticator hands it names in the one shape the hub accepts (the same
rule as ``bindery.hub.names``): lowercase letters, digits, ``-``, ``_`` and ``.``,
starting with a letter or digit, no ``..``, at most 64 characters.
"""

from __future__ import annotations

import re

MAX_USERNAME_LENGTH = 64
#: The shape the hub accepts for user names.
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")


def normalize_username(raw: str) -> str:
    """Fold what people type (spaces, capitals) so "Alice " and "alice" are one user."""
    return raw.strip().lower()


def is_valid_username(name: str) -> bool:
    """True when ``name`` can be used as a hub user name as is."""
    return (
        0 < len(name) <= MAX_USERNAME_LENGTH
        and bool(USERNAME_RE.fullmatch(name))
        and ".." not in name
    )
