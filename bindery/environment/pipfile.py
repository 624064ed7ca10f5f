"""Pipfile / Pipfile.lock → a plain requirements file, in pure Python.

Bindery installs everything with ``uv pip install -r``; converting here means no
pipenv in the image and one installation path for all repositories. Like
repo2docker (``pipenv install --dev``), development packages are installed too.
"""

from __future__ import annotations

import json
import posixpath
import tomllib
from dataclasses import dataclass
from typing import Any

from bindery.environment.errors import RepoConfigError

#: Pipfile keys that are PEP 508 environment markers (``sys_platform = "== 'linux'"``).
_MARKER_KEYS = (
    "os_name",
    "sys_platform",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_version",
    "python_full_version",
    "implementation_name",
    "implementation_version",
)
_PYPI_HOSTS = ("pypi.org", "pypi.python.org")


@dataclass(frozen=True)
class Converted:
    """Requirements text made from a Pipfile(.lock)."""

    text: str
    count: int
    #: Some entry is a local path (``path = "."``): install after the repo copy.
    needs_repo: bool
    #: ``[requires] python_version``, if the file states one.
    python_version: str | None


def _extras(entry: dict[str, Any]) -> str:
    extras = entry.get("extras") or []
    return f"[{','.join(extras)}]" if extras else ""


def _markers(entry: dict[str, Any]) -> str:
    parts = []
    if entry.get("markers"):
        parts.append(str(entry["markers"]))
    for key in _MARKER_KEYS:
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            value = value.strip()
            # Pipenv writes `sys_platform = "== 'linux'"`; a bare value means equality.
            parts.append(f"{key} {value}" if value[0] in "=!<>~" else f"{key} == '{value}'")
    return f" ; {' and '.join(parts)}" if parts else ""


def _version(spec: str) -> str:
    spec = spec.strip()
    if spec in ("", "*"):
        return ""
    return f"=={spec}" if spec[0].isdigit() else spec


def _line(name: str, entry: Any, config_dir: str, origin: str) -> tuple[str, bool]:
    """One requirement line and whether it needs the repository's files."""
    if isinstance(entry, str):
        return f"{name}{_version(entry)}", False
    if not isinstance(entry, dict):
        raise RepoConfigError(
            f"{origin}: the entry for {name!r} is neither a version string nor a table."
        )
    extras, markers = _extras(entry), _markers(entry)
    if "git" in entry:
        ref = f"@{entry['ref']}" if entry.get("ref") else ""
        url = entry["git"] if entry["git"].startswith("git+") else f"git+{entry['git']}"
        return f"{name}{extras} @ {url}{ref}{markers}", False
    if "path" in entry:
        # Paths are relative to the Pipfile; installs run from the repository root.
        path = posixpath.normpath(posixpath.join(config_dir or ".", str(entry["path"])))
        if path.startswith(".."):
            raise RepoConfigError(f"{origin}: the path of {name!r} points outside the repository.")
        target = f"./{path}" if not path.startswith(".") else path
        prefix = "-e " if entry.get("editable") else ""
        return (
            f"{prefix}{target}{extras if not prefix else ''}{markers if not prefix else ''}",
            True,
        )
    if "file" in entry:
        return f"{name}{extras} @ {entry['file']}{markers}", False
    return f"{name}{extras}{_version(str(entry.get('version', '')))}{markers}", False


def _index_lines(sources: Any) -> list[str]:
    """Extra package indexes named by the file (PyPI itself is the default anyway)."""
    lines = []
    for source in sources or []:
        url = source.get("url", "") if isinstance(source, dict) else ""
        if url and not any(host in url for host in _PYPI_HOSTS):
            lines.append(f"--extra-index-url {url}")
    return lines


def _convert(
    sections: list[Any], sources: Any, config_dir: str, origin: str
) -> tuple[list[str], bool]:
    lines = _index_lines(sources)
    needs_repo = False
    seen: set[str] = set()
    for section in sections:
        if section is None:
            continue
        if not isinstance(section, dict):
            raise RepoConfigError(f"{origin}: a package section is not a table of packages.")
        for name, entry in section.items():
            if name.lower() in seen:
                continue
            seen.add(name.lower())
            line, local = _line(name, entry, config_dir, origin)
            lines.append(line)
            needs_repo = needs_repo or local
    return lines, needs_repo


def from_lock(text: str, config_dir: str, origin: str) -> Converted:
    """Pipfile.lock (JSON): exact pins ``name==version ; markers`` from default + develop."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RepoConfigError(
            f"{origin} is not valid JSON: {exc.msg} (line {exc.lineno})."
        ) from exc
    if not isinstance(data, dict):
        raise RepoConfigError(f"{origin} is not a Pipfile.lock (expected a JSON object).")
    meta = data.get("_meta") or {}
    lines, needs_repo = _convert(
        [data.get("default"), data.get("develop")], meta.get("sources"), config_dir, origin
    )
    requires = meta.get("requires") or {}
    return Converted(_text(origin, lines), _count(lines), needs_repo, _py(requires))


def from_pipfile(text: str, config_dir: str, origin: str) -> Converted:
    """Pipfile (TOML): ``[packages]`` and ``[dev-packages]`` with their version specs."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RepoConfigError(f"{origin} is not valid TOML: {exc}.") from exc
    lines, needs_repo = _convert(
        [data.get("packages"), data.get("dev-packages")], data.get("source"), config_dir, origin
    )
    return Converted(
        _text(origin, lines), _count(lines), needs_repo, _py(data.get("requires") or {})
    )


def _py(requires: Any) -> str | None:
    if not isinstance(requires, dict):
        return None
    version = requires.get("python_version") or requires.get("python_full_version")
    if not version:
        return None
    return ".".join(str(version).split(".")[:2])


def _count(lines: list[str]) -> int:
    return sum(1 for ln in lines if not ln.startswith("--"))


def _text(origin: str, lines: list[str]) -> str:
    return f"# Generated by Bindery from {origin}\n" + "".join(f"{ln}\n" for ln in lines)
