"""Which Python a repository asks for, and which one this Bindery gives it.

Asking: ``runtime.txt`` (``python-X.Y``), the ``[requires] python_version`` of the
Pipfile(.lock) in use, ``pyproject.toml``'s ``requires-python``, or the
``python`` pin of ``environment.yml`` — first found wins, in that order.

Giving: Debian's own Pythons (one base image per release, offline) and, where a
python-build-standalone mirror is configured and answers, any CPython uv can
install. An exact match always wins (Debian's first: nothing to download). When
there is none, ``python_policy`` decides: ``nearest`` takes the nearest newer
minor on offer and says so; ``exact`` refuses with the choices. Never silently.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

from bindery.environment.errors import RepoConfigError
from bindery.environment.options import EnvironmentOptions
from bindery.environment.repo_files import ConfigFiles

POLICIES = ("nearest", "exact")
_RUNTIME = re.compile(r"^python-(\d+)(?:\.(\d+))?(?:\.\d+)?$")
_CLAUSE = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*([0-9]+(?:\.[0-9]+)*)(\.\*)?\s*$")
#: ``- python=3.10``, ``- python 3.10.*``, ``- python>=3.9``, ``- "python==3.10.4"``.
_CONDA_PYTHON = re.compile(
    r"""^\s*-\s*["']?python(?:\s*(?P<op>==|=|>=|<=|>|<|!=|~=)\s*|\s+)(?P<ver>[0-9][0-9.*]*)""")


@dataclass(frozen=True)
class PythonRequest:
    """What a file asks for: one minor ("3.10") or a specifier (">=3.12")."""

    origin: str
    version: str | None = None
    specifier: str | None = None

    @property
    def text(self) -> str:
        return self.version or self.specifier or ""


@dataclass(frozen=True)
class PythonChoice:
    """The Python an image gets, and how that answers the request."""

    #: "3.11"
    version: str
    #: Where the request came from ("runtime.txt", "Pipfile.lock", "default").
    origin: str
    #: What was asked ("3.10", ">=3.12"); "" for the default.
    requested: str = ""
    #: True: uv installs CPython from the mirror; False: the base image's Debian Python.
    managed: bool = False
    #: Shown in the build log and on the launch page when the request was not met exactly.
    warning: str | None = None


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _offered(options: EnvironmentOptions) -> list[str]:
    return sorted({*options.base_images, *options.managed_available}, key=version_key)


def describe_offer(options: EnvironmentOptions) -> str:
    """"python-3.9, python-3.11, …" plus why uv-managed Pythons are missing, if they are."""
    listed = ", ".join(f"python-{v}" for v in _offered(options))
    if options.python_install_mirror and options.python_mirror_problem:
        listed += (f" (uv-managed Pythons are unavailable: the Python mirror "
                   f"{options.python_install_mirror} {options.python_mirror_problem})")
    return listed


# -- what the repository asks for ---------------------------------------------


def runtime_request(files: ConfigFiles, options: EnvironmentOptions) -> PythonRequest | None:
    """runtime.txt's ``python-X.Y`` (``python-3`` = newest 3.x on offer); None without one."""
    text = files.read_text("runtime.txt")
    if text is None:
        return None
    origin = files.rel("runtime.txt")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not lines:
        raise RepoConfigError(f"{origin} is empty; write one line such as python-{options.default_python}.")
    line = lines[0]
    if line.startswith("r-"):
        return None  # an R runtime: the r environment module reads it; Python stays default
    match = _RUNTIME.match(line)
    if not match:
        raise RepoConfigError(
            f"{origin} says {line!r}, which is not a runtime Bindery understands; "
            f"write python-X.Y, e.g. python-{options.default_python}. "
            f"Available: {describe_offer(options)}."
        )
    major, minor = match.group(1), match.group(2)
    if minor is None:
        same = [v for v in _offered(options) if v.split(".")[0] == major]
        if not same:
            raise RepoConfigError(f"{origin} asks for Python {major}, which this Bindery does "
                                  f"not provide. Available: {describe_offer(options)}.")
        return PythonRequest(origin, version=max(same, key=version_key))
    return PythonRequest(origin, version=f"{major}.{minor}")


def pyproject_request(files: ConfigFiles) -> PythonRequest | None:
    """``[project] requires-python`` of the config directory's pyproject.toml."""
    text = files.read_text("pyproject.toml")
    if text is None:
        return None
    origin = files.rel("pyproject.toml")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RepoConfigError(f"{origin} is not valid TOML: {exc}.") from exc
    project = data.get("project")
    spec = project.get("requires-python") if isinstance(project, dict) else None
    if not isinstance(spec, str) or not spec.strip():
        return None
    parse_specifier(spec, f"{origin} requires-python")
    return PythonRequest(origin, specifier=spec.strip())


def conda_python_request(text: str, origin: str) -> PythonRequest | None:
    """The ``python`` pin among an environment.yml's dependencies (only that line is read).

    For the conda module too: ``python=3.10`` / ``python 3.10.*`` → 3.10,
    ``python>=3.9`` → a specifier, a bare ``python`` → None.
    """
    for line in text.splitlines():
        match = _CONDA_PYTHON.match(line.split("#", 1)[0])
        if not match:
            continue
        op, ver = match.group("op") or "=", match.group("ver").rstrip(".*")
        parts = ver.split(".")
        if op in ("=", "==") and len(parts) >= 2:
            return PythonRequest(origin, version=f"{parts[0]}.{parts[1]}")
        if op in ("=", "=="):
            return PythonRequest(origin, specifier=f"=={parts[0]}.*")
        spec = f"{op}{ver}"
        try:
            parse_specifier(spec, origin)
        except RepoConfigError:
            return None
        return PythonRequest(origin, specifier=spec)
    return None


def pipfile_request(version: str | None, origin: str) -> PythonRequest | None:
    """``[requires] python_version`` ("3.6"); anything but digits and dots is an error."""
    if not version:
        return None
    if not re.fullmatch(r"\d+\.\d+", version):
        raise RepoConfigError(f"{origin}: python_version {version[:40]!r} is not a version "
                              "such as \"3.11\".")
    return PythonRequest(origin, version=version)


# -- specifiers (requires-python) ----------------------------------------------


def parse_specifier(spec: str, origin: str) -> list[tuple[str, tuple[int, ...], bool]]:
    """PEP 440 clauses as (operator, version, wildcard); malformed text is an error."""
    clauses = []
    for part in spec.split(","):
        match = _CLAUSE.match(part)
        if not match:
            raise RepoConfigError(
                f"{origin}: {spec!r} is not a Python version specifier Bindery understands "
                "(write e.g. '>=3.10' or '>=3.9,<3.13')."
            )
        clauses.append((match.group(1), version_key(match.group(2)), bool(match.group(3))))
    return clauses


def _clause_holds(op: str, want: tuple[int, ...], wildcard: bool, have: tuple[int, ...]) -> bool:
    if wildcard:
        prefix = have[: len(want)] == want
        return prefix if op == "==" else not prefix
    padded = want + (0,) * (3 - len(want))
    if op == "~=":
        return have >= padded and have[: len(want) - 1] == want[:-1]
    return {
        "==": have == padded, "===": have == padded, "!=": have != padded,
        "<": have < padded, "<=": have <= padded, ">": have > padded, ">=": have >= padded,
    }[op]


def minor_satisfies(spec: str, minor: str) -> bool:
    """Whether some release X.Y.z of ``minor`` meets every clause of ``spec``."""
    clauses = parse_specifier(spec, "requires-python")
    base = version_key(minor)[:2]
    return any(all(_clause_holds(op, want, wild, (*base, patch)) for op, want, wild in clauses)
               for patch in range(0, 40))


# -- choosing ------------------------------------------------------------------


def choose(request: PythonRequest | None, options: EnvironmentOptions) -> PythonChoice:
    """The Python to build with; RepoConfigError under ``exact`` when it cannot be had."""
    if options.python_policy not in POLICIES:
        raise RepoConfigError(f"builder.python_policy is {options.python_policy!r}; "
                              f"use one of {', '.join(POLICIES)}.")
    if request is None:
        return _exactly(options.default_python, "default", "", options)
    if request.version is not None:
        wanted = request.version
        if wanted in options.base_images or wanted in options.managed_available:
            return _exactly(wanted, request.origin, wanted, options)
        return _nearest(request, wanted, options)
    assert request.specifier is not None
    spec = request.specifier
    fitting = [v for v in _offered(options) if minor_satisfies(spec, v)]
    if options.default_python in fitting:
        return _exactly(options.default_python, request.origin, spec, options)
    if fitting:
        newer = [v for v in fitting if version_key(v) > version_key(options.default_python)]
        best = min(newer, key=version_key) if newer else max(fitting, key=version_key)
        return _exactly(best, request.origin, spec, options)
    lowest = _lowest_minor(spec)
    return _nearest(request, lowest, options)


def _lowest_minor(spec: str) -> str:
    for minor in range(0, 30):
        if minor_satisfies(spec, f"3.{minor}"):
            return f"3.{minor}"
    return "3.99"


def _exactly(version: str, origin: str, requested: str, options: EnvironmentOptions) -> PythonChoice:
    if version in options.base_images:
        return PythonChoice(version, origin, requested, managed=False)
    if version in options.managed_available:
        return PythonChoice(version, origin, requested, managed=True)
    raise RepoConfigError(
        f"{origin} asks for Python {version}, which this Bindery does not provide. "
        f"Available: {describe_offer(options)}."
    )


def _nearest(request: PythonRequest, wanted: str, options: EnvironmentOptions) -> PythonChoice:
    offered = _offered(options)
    major = wanted.split(".")[0]
    if offered and not any(v.split(".")[0] == major for v in offered):
        raise RepoConfigError(
            f"{request.origin} asks for Python {request.text}; this Bindery provides only "
            f"other major versions, and no policy changes a major version. "
            f"Available: {describe_offer(options)}."
        )
    if options.python_policy == "exact" or not offered:
        raise RepoConfigError(
            f"{request.origin} asks for Python {request.text}, which this Bindery cannot provide. "
            f"Available: {describe_offer(options)}. (builder.python_policy is "
            f"{options.python_policy!r}; with 'nearest' the nearest newer version is used.)"
        )
    newer = [v for v in offered if version_key(v) > version_key(wanted)]
    chosen = min(newer, key=version_key) if newer else max(offered, key=version_key)
    how = "the nearest newer version" if newer else "the newest available (none is newer)"
    warning = (
        f"{request.origin} asks for Python {request.text}, which this Bindery cannot provide "
        f"(available: {describe_offer(options)}); using Python {chosen}, {how}. Packages "
        f"pinned for Python {wanted} may not install or work on {chosen}."
    )
    choice = _exactly(chosen, request.origin, request.text, options)
    return PythonChoice(choice.version, choice.origin, choice.requested, choice.managed, warning)
