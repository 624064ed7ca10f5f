"""Python: which version (runtime.txt), which packages (requirements.txt), and
whether the repository itself is a package to install (setup.py / pyproject.toml).

Versions are the distribution's own Pythons, one per base image, so the set of
choices is exactly ``settings.base_images``: no interpreter downloads, works offline.
"""

from __future__ import annotations

import re
import shlex
import tomllib

from bindery.environment.errors import RepoConfigError
from bindery.environment.model import Requirements
from bindery.environment.options import EnvironmentOptions
from bindery.environment.repo_files import ConfigFiles

_RUNTIME = re.compile(r"^python-(\d+)(?:\.(\d+))?(?:\.\d+)?$")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_VCS = re.compile(r"^(git|hg|svn|bzr)\+")
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")


def _available(settings: EnvironmentOptions) -> str:
    return ", ".join(f"python-{v}" for v in sorted(settings.base_images, key=_version_key))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def check_python_version(version: str, origin: str, settings: EnvironmentOptions) -> str:
    """``version`` ("3.11") if a base image provides it; otherwise an error naming the choices."""
    if version not in settings.base_images:
        raise RepoConfigError(
            f"{origin} asks for Python {version}, which this Bindery does not provide. "
            f"Available: {_available(settings)}."
        )
    return version


def runtime_python(files: ConfigFiles, settings: EnvironmentOptions) -> str | None:
    """The X.Y version requested by runtime.txt, or None when there is no runtime.txt."""
    text = files.read_text("runtime.txt")
    if text is None:
        return None
    origin = files.rel("runtime.txt")
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")
    ]
    if not lines:
        raise RepoConfigError(
            f"{origin} is empty; write one line such as python-{settings.default_python}."
        )
    line = lines[0]
    if line.startswith("r-"):
        return None  # an R runtime (the r environment module reads it); Python stays default
    match = _RUNTIME.match(line)
    if not match:
        raise RepoConfigError(
            f"{origin} says {line!r}, which is not a runtime Bindery understands; "
            f"write python-X.Y, e.g. python-{settings.default_python}. "
            f"Available: {_available(settings)}."
        )
    major, minor = match.group(1), match.group(2)
    if minor is None:  # "python-3": the newest available 3.x
        same_major = [v for v in settings.base_images if v.split(".")[0] == major]
        if not same_major:
            return check_python_version(major, origin, settings)
        return max(same_major, key=_version_key)
    return check_python_version(f"{major}.{minor}", origin, settings)


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
