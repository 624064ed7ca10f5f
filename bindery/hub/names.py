"""User and server names as JupyterHub treats them: normalised, then checked only for safety.

Authenticators return all kinds of names — ``alice@example.org``, ``Alice``, ``josé`` —
and JupyterHub accepts them all. The hub normalises a name once (Unicode NFKC, then
lowercase, so ``Alice`` and ``ａｌｉｃｅ`` are one user) and refuses only what could break a
path or a log line: ``/``, control characters, surrounding spaces, ``.``/``..`` and empty
or over-long names. Everything downstream escapes the name for its own medium: URLs
(:func:`url_escape`), container and volume names (``spawners.naming.escape``), SQL
(bound parameters).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_NAME_LENGTH = 128


class InvalidName(ValueError):
    """The message says what a valid name looks like."""


def normalize_name(raw: str) -> str:
    """The one spelling of a user name: Unicode NFKC, then lowercase (JupyterHub's rule)."""
    return unicodedata.normalize("NFKC", raw).lower()


def check_name(name: object, what: str = "user name") -> str:
    """Return ``name`` normalised if it is usable, else raise ``InvalidName`` saying why."""
    if not isinstance(name, str) or not name:
        raise InvalidName(f"A {what} is required.")
    value = normalize_name(name) if what == "user name" else unicodedata.normalize("NFKC", name)
    shown = value if value.isprintable() else repr(value)
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidName(
            f"The {what} is too long ({len(value)} characters; at most {MAX_NAME_LENGTH})."
        )
    if value != value.strip() or not value.strip():
        raise InvalidName(f"The {what} {shown!r} starts or ends with spaces.")
    if "/" in value or not value.isprintable() or value in (".", ".."):
        raise InvalidName(
            f"{shown!r} is not a valid {what}: it may not contain '/' or control characters, "
            "nor be '.' or '..'."
        )
    return value


def url_escape(name: str) -> str:
    """A name as one URL path segment, as JupyterHub writes it (``@`` and ``~`` kept)."""
    return quote(name, safe="@~")
