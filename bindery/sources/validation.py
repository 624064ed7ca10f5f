"""Pure checks of user-supplied git URLs and refs, done before any subprocess runs.

A spec or ref reaches ``git`` as a command-line argument, so anything git could
read as an option (``--upload-pack=...``), a dangerous transport (``ext::``) or a
ref expression (``@{-1}``, ``main..dev``) is refused here with a :class:`SpecError`
instead of being trusted to git's own parsing.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bindery.errors import SpecError

#: Transports Bindery fetches from. ``ext::`` / ``fd::`` run commands and are never allowed.
ALLOWED_SCHEMES = ("https", "http", "git", "ssh", "file")

_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")
_REF_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>.+)$")
_TRANSPORT_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_HOST_CHARS = re.compile(r"^[A-Za-z0-9._\[\]:%-]+$")
HEX_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")


def _show(text: str) -> str:
    """The text as it can safely be quoted back in an error message."""
    return repr(text[:80])


def check_ref(ref: str) -> str:
    """Return ``ref`` if it is a plain branch, tag, ``HEAD`` or commit name; else SpecError.

    Follows ``git check-ref-format --allow-onelevel`` (in pure Python, so nothing
    runs) plus: no leading ``-`` (it would be read as an option).
    """
    if not isinstance(ref, str) or ref == "":
        raise SpecError("The ref is empty: give a branch, tag or commit, or leave it out for the default branch.")
    problem = None
    if ref.startswith("-"):
        problem = "it starts with '-'"
    elif _REF_FORBIDDEN_CHARS.search(ref):
        problem = "it contains a space, a control character or one of ~ ^ : ? * [ \\"
    elif ".." in ref:
        problem = "it contains '..'"
    elif "@{" in ref or ref == "@":
        problem = "it contains '@{' or is '@'"
    elif ref.startswith("/") or ref.endswith("/") or "//" in ref:
        problem = "it starts or ends with '/' or contains '//'"
    elif ref.endswith("."):
        problem = "it ends with '.'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in ref.split("/")):
        problem = "a part of it starts with '.' or ends with '.lock'"
    if problem:
        raise SpecError(f"The ref {_show(ref)} is not a valid branch, tag or commit name: {problem}.")
    return ref


def _check_host(host: str, url: str) -> None:
    if not host or host.startswith("-") or not _HOST_CHARS.match(host):
        raise SpecError(f"The git URL {_show(url)} has an invalid host name.")


def check_git_url(url: str) -> str:
    """Return ``url`` if it is a git URL Bindery will fetch from; else SpecError.

    Accepted: ``https://``, ``http://``, ``git://``, ``ssh://``, ``file://`` and
    scp-like ``user@host:path``. Refused: leading ``-``, whitespace or control
    characters, ``ext::``/``fd::`` and other ``<transport>::`` forms, hosts or
    users that look like options (ssh would read them as such).
    """
    if not isinstance(url, str) or not url:
        raise SpecError("The repository URL is empty.")
    if url.startswith("-"):
        raise SpecError(f"The repository URL {_show(url)} starts with '-'; that is not a URL.")
    if _CONTROL_OR_SPACE.search(url):
        raise SpecError(f"The repository URL {_show(url)} contains a space or a control character.")
    if _TRANSPORT_PREFIX.match(url):
        raise SpecError(
            f"The repository URL {_show(url)} uses a '<transport>::' form (such as ext::), which is not allowed."
        )
    if "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise SpecError(
                f"The repository URL {_show(url)} uses the unsupported scheme {scheme!r}; "
                f"use one of {', '.join(s + '://' for s in ALLOWED_SCHEMES)}."
            )
        if scheme == "file":
            if not parts.path.startswith("/") or parts.netloc not in ("", "localhost"):
                raise SpecError(f"The file URL {_show(url)} must be file:///absolute/path.")
            return url
        try:
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise SpecError(f"The repository URL {_show(url)} has an invalid port.") from exc
        _check_host(host, url)
        if parts.username and parts.username.startswith("-"):
            raise SpecError(f"The repository URL {_show(url)} has a user name starting with '-'.")
        if not parts.path.strip("/"):
            raise SpecError(f"The repository URL {_show(url)} names no repository (its path is empty).")
        return url
    match = _SCP_LIKE.match(url)
    if match and "/" not in url.split(":", 1)[0]:
        user, host, path = match.group("user"), match.group("host"), match.group("path")
        _check_host(host, url)
        if (user or "").startswith("-") or path.startswith("-"):
            raise SpecError(f"The repository URL {_show(url)} has a part starting with '-'.")
        return url
    raise SpecError(
        f"{_show(url)} is not a git URL: expected https://, http://, git://, ssh://, file:// or user@host:path."
    )


def looks_like_git_url(spec: str) -> bool:
    """True for specs written as a git URL (used by ``accepts``; does not validate)."""
    if "://" in spec:
        return spec.split("://", 1)[0].lower() in ALLOWED_SCHEMES
    match = _SCP_LIKE.match(spec)
    return bool(match) and "@" in spec.split(":", 1)[0] and "/" not in spec.split(":", 1)[0]


def url_host(url: str) -> str:
    """The host part of a git URL, for messages ("could not reach <host>")."""
    if "://" in url:
        parts = urlsplit(url)
        return parts.netloc.rsplit("@", 1)[-1] if parts.scheme != "file" else parts.path
    match = _SCP_LIKE.match(url)
    return match.group("host") if match else url
