"""User-name rules shared by the authenticators.

The hub uses the name in URLs (``/user/<name>/``), container names and DB keys,
so every authenticator hands it names in one safe shape: lowercase letters,
digits and ``-``, starting with a letter or digit.
"""

from __future__ import annotations

import re

#: The shape the hub accepts for user names.
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def normalize_username(raw: str) -> str:
    """Fold what people type (spaces, capitals) so "Alice " and "alice" are one user."""
    return raw.strip().lower()


def is_valid_username(name: str) -> bool:
    """True when ``name`` can be used as a hub user name as is."""
    return bool(USERNAME_RE.fullmatch(name))
