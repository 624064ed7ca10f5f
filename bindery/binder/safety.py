"""Which repositories the web service may fetch (no server-side request forgery).

The sources own the real check (``bindery.sources.safety.check_public_remote``);
this module only decides *when* it applies and, while that module is absent,
applies a conservative equivalent so a public deployment is never open.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from bindery.errors import SpecError

_REFUSED = (
    "This service only launches repositories on public hosts; {what} is not allowed "
    "here. (An administrator can set allow_local_repos = true.)"
)


def check_public_remote(url: str) -> None:
    """Raise SpecError for local paths, ``file://`` and hosts on loopback/private networks."""
    try:
        from bindery.sources.safety import check_public_remote as sources_check
    except ImportError:
        sources_check = None
    if sources_check is not None:
        sources_check(url)
        return
    _fallback_check(url)


def _fallback_check(url: str) -> None:
    if url.startswith("git@"):
        host = url[4:].split(":", 1)[0]
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "git", "ssh"):
            raise SpecError(_REFUSED.format(what=f"'{url}' (a local path or file URL)"))
        host = parts.hostname or ""
    if not host:
        raise SpecError(_REFUSED.format(what=f"'{url}' (no host)"))
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        raise SpecError(f"The host {host} of {url} could not be found.") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise SpecError(_REFUSED.format(what=f"{host} (a local or private address)"))
