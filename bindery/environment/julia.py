"""The ``julia`` environment module: ``Project.toml`` / ``JuliaProject.toml`` → Julia + IJulia.

As repo2docker: a ``Project.toml`` (or ``JuliaProject.toml``, which wins) in the config
directory switches Julia on; its ``[compat] julia`` entry chooses the version (the newest
known release that satisfies it); IJulia registers a "Julia" kernel with the image's
Jupyter; the project is instantiated after the repository copy. A ``REQUIRE`` file (Julia
0.6's format) is refused with a clear message, as repo2docker does.

Julia is downloaded inside the build from ``download_url`` (a template; Julia's own
servers by default) and packages come from ``package_server``: neither can be reached
from every network, so both are settings, and a failed download names the URL and the
setting to change (``image_scripts/bindery_fetch.py``).
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from importlib import resources

from bindery.environment.errors import RepoConfigError
from bindery.environment.modules import Contribution, EnvironmentModule
from bindery.environment.options import EnvironmentOptions
from bindery.environment.repo_files import ConfigFiles

JULIA_DIR = "/opt/julia"
DEPOT = "/opt/julia-depot"
FETCH_IN_IMAGE = "/usr/local/lib/bindery/julia_fetch.py"
HOME = "/home/jovyan"
VENV = "/srv/venv"
#: Used when Project.toml has no ``[compat] julia`` (repo2docker's default compat is "1.6").
DEFAULT_COMPAT = "1.6"


@dataclass(frozen=True)
class JuliaOptions:
    """``[builder.modules.julia]``."""

    #: Where the Julia tarball comes from. ``{version}`` is "1.10.9", ``{minor}`` "1.10",
    #: ``{arch}`` "x86_64", ``{arch_short}`` "x64".
    download_url: str = (
        "https://julialang-s3.julialang.org/bin/linux/{arch_short}/{minor}/"
        "julia-{version}-linux-{arch}.tar.gz"
    )
    #: The releases the download location serves; ``[compat] julia`` picks among them.
    versions: tuple[str, ...] = ("1.6.7", "1.7.3", "1.8.5", "1.9.4", "1.10.9", "1.11.5")
    #: Julia's package server (JULIA_PKG_SERVER); empty: Julia's default.
    package_server: str = ""
    #: Seconds the download may take to start answering.
    timeout: float = 30.0


def _version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


def _upper_caret(spec: tuple[int, ...], given: int) -> tuple[int, int, int]:
    """Exclusive upper bound of Julia's caret/default specifier (Pkg's rules)."""
    major, minor, patch = (list(spec) + [0, 0, 0])[:3]
    if major != 0 or given == 1:
        return major + 1, 0, 0
    if minor != 0 or given == 2:
        return 0, minor + 1, 0
    return 0, 0, patch + 1


def _one_spec(spec: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """[low, high) of one Pkg version specifier ("1.6", "^1.6", "~1.6.2", "=1.6.2", ">=1.6")."""
    spec = spec.strip()
    if " - " in spec:
        low, high = (s.strip() for s in spec.split(" - ", 1))
        top = [int(p) for p in high.split(".")]
        bound = (top + [0, 0])[:3]
        bound[len(top) - 1] += 1
        return _version(low), (bound[0], bound[1], bound[2])
    for op in (">=", "≥"):
        if spec.startswith(op):
            return _version(spec[len(op):].strip()), (10**6, 0, 0)
    if spec.startswith("<"):
        return (0, 0, 0), _version(spec[1:].strip().lstrip("="))
    if spec.startswith("="):
        exact = _version(spec[1:].strip())
        return exact, (exact[0], exact[1], exact[2] + 1)
    if spec.startswith("~"):
        tilde = spec[1:].strip()
        start = _version(tilde)
        if len(tilde.split(".")) == 1:
            return start, (start[0] + 1, 0, 0)
        return start, (start[0], start[1] + 1, 0)
    numbers = spec.lstrip("^").strip()
    if not re.fullmatch(r"\d+(\.\d+){0,2}", numbers):
        raise ValueError(spec)
    given = len(numbers.split("."))
    return _version(numbers), _upper_caret(_version(numbers), given)


def choose_version(compat: str, versions: tuple[str, ...], origin: str) -> str:
    """The newest of ``versions`` that ``compat`` (Pkg's syntax, comma = or) allows."""
    try:
        ranges = [_one_spec(part) for part in compat.split(",") if part.strip()]
    except (ValueError, IndexError):
        raise RepoConfigError(
            f"{origin}: [compat] julia = {compat!r} is not a version specifier Bindery "
            "understands (examples: \"1.10\", \"~1.9.4\", \">= 1.6\")."
        ) from None
    allowed = [v for v in versions if any(lo <= _version(v) < hi for lo, hi in ranges)]
    if not allowed:
        raise RepoConfigError(
            f"{origin}: [compat] julia = {compat!r} allows none of the Julia releases this "
            f"Bindery knows ({', '.join(versions)}); the list is the setting "
            "[builder.modules.julia] versions."
        )
    return max(allowed, key=_version)


def download_url(options: JuliaOptions, version: str) -> str:
    major, minor, _ = _version(version)
    return (options.download_url.replace("{version}", version)
            .replace("{minor}", f"{major}.{minor}")
            .replace("{arch}", "x86_64").replace("{arch_short}", "x64"))


class JuliaModule(EnvironmentModule):
    """Julia with IJulia and the repository's project (see the module docstring)."""

    name = "julia"
    claims = ("Project.toml", "JuliaProject.toml", "REQUIRE")
    order = 10
    options_type = JuliaOptions

    def detect(self, files: ConfigFiles, settings: EnvironmentOptions) -> Contribution | None:
        options: JuliaOptions = self.options
        name = next((n for n in ("JuliaProject.toml", "Project.toml") if files.has(n)), None)
        if name is None:
            if files.has("REQUIRE"):
                raise RepoConfigError(
                    f"{files.rel('REQUIRE')}: Julia's REQUIRE file is no longer supported "
                    "(nor by mybinder.org); describe the environment in a Project.toml instead "
                    "(`]activate .` then `]add Package` in Julia writes one)."
                )
            return None
        origin = files.rel(name)
        try:
            project = tomllib.loads(files.read_text(name) or "")
        except tomllib.TOMLDecodeError as exc:
            raise RepoConfigError(f"{origin} is not valid TOML: {exc}.") from exc
        compat_table = project.get("compat", {})
        compat = compat_table.get("julia", DEFAULT_COMPAT) if isinstance(compat_table, dict) else DEFAULT_COMPAT
        version = choose_version(str(compat), options.versions, origin)
        url = download_url(options, version)
        project_dir = f"{HOME}/{files.config_dir}" if files.config_dir else HOME
        env = {"JULIA_DEPOT_PATH": DEPOT, "JULIA_PROJECT": project_dir}
        if options.package_server:
            env["JULIA_PKG_SERVER"] = options.package_server
        deps = project.get("deps", {})
        summary = [
            f"Julia {version} ({origin}, [compat] julia = {compat!r}) from {url}",
            f"{origin}: {_count(deps)}, instantiated "
            "after the repository copy; IJulia adds a \"Julia\" kernel",
        ]
        notes = []
        if files.has("REQUIRE"):
            notes.append(f"{files.rel('REQUIRE')} ignored: {origin} describes the environment.")
        fetch = (
            f"python3 {FETCH_IN_IMAGE} {shlex.quote(url)} /tmp/julia.tar.gz "
            f"--what {shlex.quote('Julia ' + version)} "
            f"--setting {shlex.quote('[builder.modules.julia] download_url')} "
            f"--extract {JULIA_DIR} --strip 1 --timeout {options.timeout:g}"
        )
        ijulia = (
            'using Pkg; Pkg.add("IJulia"); using IJulia; '
            f'installkernel("Julia", "--project={project_dir}")'
        )
        return Contribution(
            module="julia",
            sources=(origin,),
            root_setup=f"""\
COPY .bindery/julia/bindery_fetch.py {FETCH_IN_IMAGE}
RUN {fetch} \\
 && ln -sf {JULIA_DIR}/bin/julia /usr/local/bin/julia \\
 && install -d -o 1000 -g 1000 {DEPOT}
""",
            dependency_section=(
                f"RUN JULIA_PROJECT= JUPYTER={VENV}/bin/jupyter JUPYTER_DATA_DIR={VENV}/share/jupyter "
                f"julia -e {shlex.quote(ijulia)}\n"
            ),
            repo_section=(
                "RUN julia -e 'using Pkg; Pkg.instantiate(); Pkg.resolve(); Pkg.instantiate()'\n"
            ),
            env=env,
            labels={"org.bindery.julia": version},
            context_files={"julia/bindery_fetch.py": _fetch_script()},
            summary=tuple(summary),
            notes=tuple(notes),
        )


def _count(deps: object) -> str:
    n = len(deps) if isinstance(deps, dict) else 0
    return f"{n} package" if n == 1 else f"{n} packages"


def _fetch_script() -> bytes:
    return resources.files("bindery.environment").joinpath("image_scripts", "bindery_fetch.py").read_bytes()
