"""Lockfiles installed exactly: ``uv.lock`` (with its ``pyproject.toml``) and
``pylock.toml`` (PEP 751).

Both are installed by uv, which the image already has: ``uv sync --frozen`` for
uv.lock (the lock is used as written, never re-resolved), ``uv pip install -r
pylock.toml`` for a PEP 751 lock. Like a plain requirements file, a lock that
names only index or URL packages is copied alone and installed before the
repository (cached across notebook edits); one naming local paths is installed
after the repository copy. ``uv sync --inexact`` keeps the Jupyter packages the
lock does not mention; a package the lock pins gets the lock's version.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from typing import Any

from bindery.environment.errors import RepoConfigError
from bindery.environment.repo_files import ConfigFiles

UV_LOCK = "uv.lock"
PYLOCK = "pylock.toml"
#: In precedence order: the first present is installed, the others are noted as ignored.
LOCKFILES = (UV_LOCK, PYLOCK)


@dataclass(frozen=True)
class Lockfile:
    """One lockfile to install exactly."""

    #: "uv.lock" or "pylock.toml".
    kind: str
    #: Path relative to the repository root ("binder/uv.lock").
    source: str
    #: Files to copy before the repository (relative to the root), in order.
    files: tuple[str, ...]
    #: The lock names local paths: install after the repository copy.
    needs_repo: bool
    #: uv.lock only: the project itself is a package (``uv sync`` installs it, editable).
    install_project: bool
    #: Number of packages pinned (for the summary).
    count: int


def _load(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RepoConfigError(f"{origin} is not valid TOML: {exc}.") from exc


def _uv_lock(files: ConfigFiles, text: str) -> Lockfile:
    origin = files.rel(UV_LOCK)
    if not files.has("pyproject.toml"):
        raise RepoConfigError(
            f"{origin} has no pyproject.toml beside it; uv installs a uv.lock only together "
            f"with its project file. Add {files.rel('pyproject.toml')} or remove the lock."
        )
    data = _load(text, origin)
    packages = data.get("package")
    if not isinstance(packages, list):
        raise RepoConfigError(f"{origin} lists no [[package]] entries; is it a uv.lock?")
    install_project = needs_repo = False
    count = 0
    for package in packages:
        source = package.get("source") if isinstance(package, dict) else None
        if not isinstance(source, dict):
            continue
        if source.get("virtual") == "." or source.get("editable") == ".":
            install_project = source.get("editable") == "."
            continue
        count += 1
        if any(key in source for key in ("path", "directory", "editable", "virtual")):
            needs_repo = True
    project = _load(files.read_text("pyproject.toml") or "", files.rel("pyproject.toml"))
    tool = project.get("tool")
    uv_tool = tool.get("uv") if isinstance(tool, dict) else None
    if isinstance(uv_tool, dict) and "workspace" in uv_tool:
        needs_repo = True  # members live elsewhere in the repository
    return Lockfile(UV_LOCK, origin, (files.rel("pyproject.toml"), origin),
                    needs_repo, install_project, count)


def _is_local(entry: Any) -> bool:
    return isinstance(entry, dict) and "path" in entry and "url" not in entry


def _pylock(files: ConfigFiles, text: str) -> Lockfile:
    origin = files.rel(PYLOCK)
    data = _load(text, origin)
    packages = data.get("packages")
    if "lock-version" not in data or not isinstance(packages, list):
        raise RepoConfigError(
            f"{origin} is not a PEP 751 lock (it needs lock-version and [[packages]])."
        )
    needs_repo = False
    for package in packages:
        if not isinstance(package, dict):
            continue
        listed = package.get("wheels")
        wheels: list[Any] = listed if isinstance(listed, list) else []
        if ("directory" in package or _is_local(package.get("archive"))
                or _is_local(package.get("sdist")) or any(_is_local(w) for w in wheels)):
            needs_repo = True
    return Lockfile(PYLOCK, origin, (origin,), needs_repo, False, len(packages))


def find_lockfile(files: ConfigFiles) -> tuple[Lockfile | None, list[str]]:
    """The lockfile to install (if any) and notes about other lockfiles it hides."""
    found: Lockfile | None = None
    notes: list[str] = []
    for name in LOCKFILES:
        text = files.read_text(name)
        if text is None:
            continue
        if found is not None:
            notes.append(f"{files.rel(name)} ignored: {found.source} takes precedence.")
            continue
        found = _uv_lock(files, text) if name == UV_LOCK else _pylock(files, text)
    return found, notes
