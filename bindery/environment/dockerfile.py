"""A repository's own Dockerfile: used exactly as given, nothing else applies.

As on mybinder.org, ``binder/Dockerfile`` wins over a root ``Dockerfile`` simply
because a binder directory hides every root configuration file.
"""

from __future__ import annotations

import json
import re

from bindery.environment.repo_files import ConfigFiles

_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.IGNORECASE | re.MULTILINE)


def repo_dockerfile(files: ConfigFiles) -> tuple[str, str] | None:
    """(path relative to the root, text) of the Dockerfile, or None."""
    text = files.read_text("Dockerfile")
    if text is None:
        return None
    return files.rel("Dockerfile"), text


def first_base_image(dockerfile_text: str) -> str:
    """The image named by the first FROM line ("" if there is none), for labels and logs."""
    match = _FROM.search(dockerfile_text)
    return match.group(1) if match else ""


#: A source the engine would download itself: ``scheme://...`` or ``git@host:...``.
_REMOTE_SOURCE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)
_DIRECTIVE = re.compile(r"^#\s*([a-z]+)\s*=\s*(\S*)\s*$", re.IGNORECASE)


def _parser_directives(lines: list[str]) -> dict[str, str]:
    """``# syntax=...``/``# escape=...`` lines at the very top, as Docker reads them."""
    found: dict[str, str] = {}
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if not match:
            break  # directives end at the first line that is not one
        found[match.group(1).lower()] = match.group(2)
    return found


def _instructions(lines: list[str], escape: str) -> list[tuple[int, str]]:
    """(first line number, text) of each instruction, continuation lines joined."""
    result: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue  # comments (directives were read already), also inside a continuation
        if not current:
            if not stripped:
                continue
            start = number
        if stripped.endswith(escape):
            current.append(stripped[: -len(escape)])
            continue
        current.append(stripped)
        result.append((start, " ".join(current)))
        current = []
    if current:
        result.append((start, " ".join(current)))
    return result


def _add_sources(arguments: str) -> list[str]:
    """The sources of an ``ADD`` (flags such as ``--checksum=`` dropped; JSON form read)."""
    text = arguments.strip()
    if text.startswith("["):
        try:
            parts = [str(part) for part in json.loads(text)]
        except ValueError:
            parts = text.strip("[]").replace('"', " ").replace(",", " ").split()
    else:
        parts = text.split()
    while parts and parts[0].startswith("--"):
        parts.pop(0)
    return parts[:-1]  # the last one is the destination


def remote_fetches(dockerfile_text: str) -> list[str]:
    """Why this Dockerfile makes the engine fetch something by itself (empty = it does not).

    A remote ``ADD`` source or a ``# syntax=`` frontend is downloaded by the
    engine from the host's network, so it can read the host's loopback and
    private addresses: a public service refuses such repository Dockerfiles.
    """
    lines = dockerfile_text.splitlines()
    directives = _parser_directives(lines)
    problems: list[str] = []
    if "syntax" in directives:
        problems.append(f"'# syntax={directives['syntax']}' "
                        "(a frontend image chosen by the repository, fetched by the engine)")
    escape = directives.get("escape", "\\") or "\\"
    for number, instruction in _instructions(lines, escape):
        keyword, _, arguments = instruction.partition(" ")
        if keyword.upper() != "ADD":
            continue
        for source in _add_sources(arguments):
            if _REMOTE_SOURCE.match(source.strip("'\"")):
                problems.append(f"line {number}: ADD {source} (a download by the engine)")
    return problems
