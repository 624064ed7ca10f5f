"""Python packages: which ones (requirements.txt), and whether the repository
itself is a package to install (setup.py / pyproject.toml).

Which interpreter is chosen is :mod:`bindery.environment.interpreters`' job.
"""

from __future__ import annotations

import re
import shlex
import tomllib

from bindery.environment.errors import RepoConfigError
from bindery.environment.grade import is_exact_pin
from bindery.environment.model import Requirements
from bindery.environment.repo_files import ConfigFiles

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_VCS = re.compile(r"^(git|hg|svn|bzr)\+")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")


# -- requirements files ------------------------------------------------------


def logical_lines(text: str) -> list[str]:
    """Requirement lines with comments removed and ``\\`` continuations joined (pip rules)."""
    joined: list[str] = []
    buffer = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            buffer += raw[:-1] + " "
            continue
        line = buffer + raw
        buffer = ""
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if line:
            joined.append(line)
    if buffer.strip():
        joined.append(re.sub(r"(^|\s)#.*$", "", buffer).strip())
    return [ln for ln in joined if ln]


def _is_local_target(target: str) -> bool:
    """A path or file: URL (as opposed to a package name or a remote URL)."""
    if target.startswith("file:"):
        return True
    if _URL.match(target) or _VCS.match(target):
        return False
    return (
        target.startswith((".", "/", "~"))
        or "/" in target
        or "\\" in target
        or target.endswith(_ARCHIVE_SUFFIXES)
    )


def _option_value(tokens: list[str], short: str, long: str) -> str | None:
    """The value of ``-r X`` / ``-rX`` / ``--requirement X`` / ``--requirement=X``, or None."""
    first = tokens[0]
    if first in (short, long):
        return tokens[1] if len(tokens) > 1 else ""
    if first.startswith(long + "="):
        return first[len(long) + 1 :]
    if first.startswith(short) and not first.startswith("--"):
        return first[len(short) :].lstrip("=")
    return None


def line_refers_to_repo(line: str) -> bool:
    """Whether one requirements line needs files of the checkout to install."""
    try:
        tokens = shlex.split(line)
    except ValueError:
        tokens = line.split()
    if not tokens:
        return False
    for short, long in (("-r", "--requirement"), ("-c", "--constraint")):
        if _option_value(tokens, short, long) is not None:
            return True  # another file: it (and what it names) lives in the repo
    for short, long in (("-e", "--editable"), ("-f", "--find-links")):
        value = _option_value(tokens, short, long)
        if value is not None:
            return _is_local_target(value)
    if tokens[0].startswith("-"):
        return False  # --index-url, --pre, --hash ... : no repository files
    if " @ " in line or "@" in tokens[0] and not _URL.match(tokens[0]):
        url = line.split("@", 1)[1].strip().split(";")[0].strip()
        return _is_local_target(url)
    return _is_local_target(tokens[0])


def count_requirements(lines: list[str]) -> int:
    return sum(1 for ln in lines if not ln.startswith("-") or ln.startswith(("-e", "--editable")))


def count_pinned(lines: list[str]) -> int:
    """Requirement lines that pin one exact version (``name==1.2.3``)."""
    return sum(1 for ln in lines if not ln.startswith("-") and is_exact_pin(ln))


def requirements_file(files: ConfigFiles) -> Requirements | None:
    """requirements.txt of the config dir, classified as cacheable or needing the repo."""
    text = files.read_text("requirements.txt")
    if text is None:
        return None
    lines = logical_lines(text)
    return Requirements(
        source=files.rel("requirements.txt"),
        repo_path=files.rel("requirements.txt"),
        needs_repo=any(line_refers_to_repo(ln) for ln in lines),
        count=count_requirements(lines),
        pinned=count_pinned(lines),
    )


# -- the repository as a package ---------------------------------------------


def repo_package(files: ConfigFiles) -> str | None:
    """ "setup.py" / "pyproject.toml" when the root is an installable package.

    Only without a binder directory (repo2docker's rule: a binder dir means the
    repository says exactly what to install).
    """
    if files.config_dir:
        return None
    if files.root_has("setup.py"):
        return "setup.py"
    text = files.read_text("pyproject.toml")
    if text is None:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RepoConfigError(f"pyproject.toml is not valid TOML: {exc}.") from exc
    if "project" in data or "build-system" in data:
        return "pyproject.toml"
    return None
