"""Which user and server names the hub accepts (they end up in URLs, container names, DB keys)."""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 64
#: Lowercase letters, digits and ``-_.``; starts with a letter or digit.
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")


class InvalidName(ValueError):
    """The message says what a valid name looks like."""


def check_name(name: object, what: str = "user name") -> str:
    """Return ``name`` if valid, else raise ``InvalidName`` with a sentence a person understands."""
    if not isinstance(name, str) or not name:
        raise InvalidName(f"A {what} is required.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(
            f"The {what} is too long ({len(name)} characters; at most {MAX_NAME_LENGTH})."
        )
    if not NAME_RE.fullmatch(name) or ".." in name:
        shown = name if name.isprintable() else repr(name)
        raise InvalidName(
            f"{shown!r} is not a valid {what}: use lowercase letters, digits, '-', '_' and '.', "
            "starting with a letter or digit."
        )
    return name
