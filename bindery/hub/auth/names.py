"""User-name rules shared by the authenticators: the hub's own (``bindery.hub.names``).

Every authenticator hands the hub names normalised the same way (NFKC, lowercase,
surrounding spaces removed from what a person typed), so ``"Alice "`` and ``alice``
are one user, and only names the hub can use safely are accepted.
"""

from __future__ import annotations

from bindery.hub.names import MAX_NAME_LENGTH, InvalidName, check_name, normalize_name

MAX_USERNAME_LENGTH = MAX_NAME_LENGTH


def normalize_username(raw: str) -> str:
    """Fold what people type (spaces, capitals, compatibility forms) into one spelling."""
    return normalize_name(raw.strip())


def is_valid_username(name: str) -> bool:
    """True when ``name`` can be used as a hub user name as is."""
    try:
        return check_name(name) == name
    except InvalidName:
        return False
