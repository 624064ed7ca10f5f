"""The one open-redirect guard: where a ``next`` parameter may send the browser.

Login pages, the OAuth start and form handlers all take a ``next`` from the
request; an attacker's ``next=https://evil.example`` must not turn the hub into a
redirector. This module is a leaf (no Bindery imports) so pages and
authenticators can share it.
"""

from __future__ import annotations


def safe_next(value: str | None, default: str = "/hub/home") -> str:
    """Only same-site paths: ``/x`` yes, ``//evil.example``, ``/\\evil`` or ``https://…`` no."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value
