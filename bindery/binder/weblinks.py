"""Which URLs the binder's pages may turn into links: ``http(s)`` ones, nothing else.

A repository URL on a page comes from the visitor's own link (``/v2/git/<URL>/...``),
so it may be ``javascript:…`` or ``data:…``: rendered as ``href`` it would run script
on this origin when clicked. HTML escaping does not help (the scheme itself is the
attack), so the pages render such a URL as text and only web links as links.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: Schemes a rendered link may use.
WEB_SCHEMES = ("http", "https")

_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


def is_web_link(url: object) -> bool:
    """True for an absolute ``http(s)://host/...`` URL; False for every other scheme or text.

    Browsers drop tabs, newlines and leading spaces from ``href`` before reading the
    scheme, so any such character makes the text "not a link" rather than being trusted.
    """
    if not isinstance(url, str) or not url or _CONTROL_OR_SPACE.search(url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(host) and url.lower().startswith(
        tuple(f"{scheme}://" for scheme in WEB_SCHEMES))
