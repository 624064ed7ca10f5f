"""Refuse repository URLs that point into this machine or its private network (SSRF).

A public launch service fetches whatever URL a visitor types; without this check
``git://127.0.0.1:<port>/`` or ``http://169.254.169.254/`` would make the server
talk to its own internal services. The host is resolved with ``getaddrinfo``
(nothing is connected) and every address it resolves to must be public.
Known limitation: git resolves the name again when it connects, so a DNS server
that answers differently the second time (DNS rebinding) is not stopped here.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from bindery.errors import SpecError
from bindery.sources.validation import _SCP_LIKE, check_git_url

_LOCAL_HINT = "(An administrator can set allow_local_repos = true to allow it.)"


def _expand_shorthand(url: str) -> str:
    """``gh:owner/repo`` and friends become the URL they stand for (their base URL may be local)."""
    from bindery.sources.hosted import GistSource, GitHubSource, GitLabSource

    for cls in (GitHubSource, GitLabSource, GistSource):
        if cls.accepts(url):
            source = cls()
            segments, _ref = source.split(url, None)
            return source.url_for(segments)
    return url


def _host_and_port(url: str) -> tuple[str, int | None]:
    if "://" in url:
        parts = urlsplit(url)
        return parts.hostname or "", parts.port
    match = _SCP_LIKE.match(url)
    return (match.group("host") if match else ""), None


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses (IPv4-mapped IPv6 judged as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved
        or ip.is_multicast or ip.is_unspecified
    )


def check_public_remote(url: str) -> None:
    """Raise SpecError unless ``url`` is a remote git URL whose host resolves only to public addresses."""
    url = _expand_shorthand(url.strip() if isinstance(url, str) else "")
    if not url or ("://" not in url and not _SCP_LIKE.match(url)) or url.startswith(("/", ".", "~")):
        raise SpecError(f"Local paths cannot be launched from this service. {_LOCAL_HINT}")
    if url.lower().startswith("file:"):
        raise SpecError(f"file:// repositories cannot be launched from this service. {_LOCAL_HINT}")
    check_git_url(url)
    host, port = _host_and_port(url)
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise SpecError(f"The host {host!r} of {url} cannot be found (DNS lookup failed).") from exc
    addresses = {str(info[4][0]) for info in infos}
    private = sorted(a for a in addresses if not is_public_address(a))
    if private or not addresses:
        raise SpecError(
            f"The host {host!r} of {url} is on this machine or a private network "
            f"({', '.join(private) or 'no address'}); only public repositories can be launched. {_LOCAL_HINT}"
        )
