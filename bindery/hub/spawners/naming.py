"""Turning user and server names into safe container, volume and directory names.

The hub validates names, but a spawner must not trust that: a name reaches the
Docker API and the file system. The escape is injective (two different names
never map to the same result) and keeps plain names readable: ``alice`` stays
``alice``, ``bob-smith`` becomes ``bob_2dsmith``.
"""

from __future__ import annotations

import hashlib
import string

#: Docker refuses very long names; longer escapes are cut and given a hash of the whole.
MAX_ESCAPED = 150
_SAFE = frozenset(string.ascii_letters + string.digits + ".")


def escape(name: str) -> str:
    """``[A-Za-z0-9.]`` kept (no leading dot); every other byte as ``_xx`` (UTF-8 hex)."""
    out: list[str] = []
    for index, char in enumerate(name):
        if char in _SAFE and not (index == 0 and char == "."):
            out.append(char)
        else:
            out.extend(f"_{byte:02x}" for byte in char.encode("utf-8"))
    escaped = "".join(out)
    if len(escaped) > MAX_ESCAPED:
        # Still injective in practice: the cut is followed by a hash of the full name.
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
        escaped = f"{escaped[:MAX_ESCAPED - 17]}-{digest}"
    return escaped


def server_slug(user: str, server_name: str = "") -> str:
    """``<user>`` or ``<user>-<server>``, both escaped (so ``-`` is unambiguous)."""
    slug = escape(user)
    return f"{slug}-{escape(server_name)}" if server_name else slug


def container_name(user: str, server_name: str = "") -> str:
    """``bindery-<user>[-<server>]``, a valid Docker container name."""
    return f"bindery-{server_slug(user, server_name)}"


def home_volume_name(user: str, server_name: str = "") -> str:
    """``bindery-home-<user>[-<server>]``: one home per server of a user, escaped like
    container names (so any user name gives a valid, unambiguous volume name)."""
    return f"bindery-home-{server_slug(user, server_name)}"
