"""The ``r`` environment module: R with IRkernel, packages from a CRAN snapshot or Debian.

When R applies follows repo2docker: ``runtime.txt`` naming an R snapshot
(``r-YYYY-MM-DD``, ``r-X.Y[.Z]-YYYY-MM-DD``), or a ``DESCRIPTION`` at the root of a
repository without a binder directory; Bindery adds ``renv.lock``. ``install.R`` alone
does not switch R on (as on mybinder.org), and says so.

R itself is Debian's ``r-base-core`` with ``r-cran-irkernel``: the R version is the base
image's, whatever runtime.txt asks (the request is reported, never silently dropped).
Packages come from the configured repository, by default a Posit Package Manager
snapshot of CRAN for the runtime.txt date, where that repository answers; otherwise
(``mode = "auto"`` falling back, or ``mode = "debian"``) from Debian's ``r-cran-*`` /
``r-bioc-*`` packages, mapped from install.R, DESCRIPTION and renv.lock. Which happened
is decided inside the build (see ``image_scripts/bindery_r.py``) and recorded in the
image label ``org.bindery.r.report``.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from bindery.environment import r_packages
from bindery.environment.errors import RepoConfigError
from bindery.environment.modules import Contribution, EnvironmentModule
from bindery.environment.options import EnvironmentOptions
from bindery.environment.repo_files import ConfigFiles

#: The label holding the build's own report (JSON): mode, R version, what Debian lacked.
REPORT_LABEL = "org.bindery.r.report"
REPORT_PATH = "/srv/bindery-r/report.json"
SCRIPT_IN_IMAGE = "/usr/local/lib/bindery/bindery_r.py"
#: Where the Shiny launcher entry is configured (a lower-priority Jupyter config path than
#: the venv's own /srv/venv/etc/jupyter, so a repository's config still wins).
SHINY_CONFIG = "/usr/local/etc/jupyter/jupyter_server_config.json"
DEPS_DIR = "/tmp/bindery-deps/r"
VENV = "/srv/venv"
HOME = "/home/jovyan"
#: The same cache mounts as render's apt steps, so every apt step shares one cache.
_APT_CACHE = (
    "--mount=type=cache,target=/var/cache/apt,sharing=locked "
    "--mount=type=cache,target=/var/lib/apt/lists,sharing=locked"
)
_DATE = r"\d{4}-\d{2}-\d{2}"
_RUNTIME = re.compile(
    rf"^r-(?:(?P<version>\d+\.\d+(?:\.\d+)?)(?:-(?P<date>{_DATE}))?|(?P<date_only>{_DATE}))$"
)


@dataclass(frozen=True)
class ROptions:
    """``[builder.modules.r]``."""

    #: "auto": the repository when it answers, else Debian's r-cran-* packages;
    #: "cran": the repository or a build error; "debian": Debian's packages only.
    mode: Literal["auto", "cran", "debian"] = "auto"
    #: The CRAN-like repository. ``{date}`` becomes the runtime.txt date ("latest"
    #: without one), ``{codename}`` the base image's Debian release (for Posit's
    #: binary packages).
    repository_url: str = "https://packagemanager.posit.co/cran/__linux__/{codename}/{date}"
    #: Seconds the build waits for the repository before deciding (auto) or failing (cran).
    probe_timeout: float = 5.0
    #: With packages from the repository: install Debian's r-base-dev (compilers, headers)
    #: so source packages build. Posit's binary packages do not need it.
    build_tools: bool = True
    #: Debian's r-cran-shiny plus jupyter-server-proxy, with a "Shiny" launcher entry
    #: that serves the app at the repository root (app.R, or ui.R + server.R).
    shiny: bool = True


@dataclass(frozen=True)
class RRuntime:
    """What runtime.txt asks of R."""

    version: str
    #: "YYYY-MM-DD", or "" for the repository's latest state.
    date: str
    source: str


def parse_runtime(files: ConfigFiles) -> RRuntime | None:
    """runtime.txt's R request, None when it is absent or names another runtime."""
    text = files.read_text("runtime.txt")
    if text is None:
        return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not lines or not lines[0].startswith("r-"):
        return None
    line, origin = lines[0], files.rel("runtime.txt")
    match = _RUNTIME.match(line)
    if not match:
        raise RepoConfigError(
            f"{origin} says {line!r}, which is not an R runtime Bindery understands; write "
            "r-YYYY-MM-DD (a CRAN snapshot date) or r-X.Y-YYYY-MM-DD, e.g. r-4.3-2024-01-10."
        )
    date = match.group("date") or match.group("date_only") or ""
    if date:
        try:
            datetime.date.fromisoformat(date)
        except ValueError:
            raise RepoConfigError(f"{origin} says {line!r}, but {date} is not a calendar date.") from None
    return RRuntime(match.group("version") or "", date, origin)


def _image_script(name: str) -> bytes:
    return resources.files("bindery.environment").joinpath("image_scripts", name).read_bytes()


class RModule(EnvironmentModule):
    """R, IRkernel and R packages (see the module docstring)."""

    name = "r"
    claims = ("install.R", "DESCRIPTION", "renv.lock")
    order = 30
    options_type = ROptions

    def detect(self, files: ConfigFiles, settings: EnvironmentOptions) -> Contribution | None:
        options: ROptions = self.options
        runtime = parse_runtime(files)
        description = files.read_text("DESCRIPTION") if not files.config_dir else None
        renv_text = files.read_text("renv.lock")
        install_r = files.read_text("install.R")
        if runtime is None and description is None and renv_text is None:
            if install_r is None:
                return None
            return Contribution(module="r", notes=(
                f"{files.rel('install.R')} ignored: R is used when {files.rel('runtime.txt')} names "
                "an R snapshot (e.g. r-4.3-2024-01-10), as on mybinder.org; add one to use R.",))

        wants = _gather(files, runtime, description, renv_text, install_r)
        packages, calls, renv, requested_r = wants.packages, wants.calls, wants.renv, wants.requested_r
        sources, notes = list(wants.sources), list(wants.notes)
        date = runtime.date if runtime and runtime.date else "latest"
        repository = options.repository_url.replace("{date}", date)
        summary = _summary(files, options, repository, wants)
        if runtime is not None and not runtime.date:
            notes.append(f"{runtime.source} names no snapshot date; R packages come from the "
                         "repository's latest state.")
        notes.append("RStudio is not available: rstudio-server is not packaged by Debian and "
                     "Posit's downloads cannot be configured here yet; use JupyterLab's R kernel.")

        plan = {
            "mode": options.mode,
            "repository": repository,
            "repository_setting": "[builder.modules.r] repository_url",
            "mode_setting": "[builder.modules.r] mode",
            "timeout": options.probe_timeout,
            "build_tools": options.build_tools,
            "packages": [
                {"name": p.name, "debian": p.debian, "origin": p.origin, "version": p.version}
                for p in packages
            ],
            "calls": [
                {"line": c.line, "text": c.text, "packages": list(c.packages)} for c in calls
            ],
            "install_r": files.rel("install.R") if install_r is not None else "",
            "renv_lock": files.rel("renv.lock") if renv is not None else "",
            "description": description is not None,
            "deps_dir": DEPS_DIR,
            "requested_r_version": requested_r,
            "notes": [n for n in notes if not n.startswith("RStudio")],
        }
        context_files = {
            "r/bindery_r.py": _image_script("bindery_r.py"),
            "r/plan.json": json.dumps(plan, indent=1, sort_keys=True).encode(),
        }
        if options.shiny:
            context_files["r/shiny-proxy.json"] = _shiny_proxy_config()
        return Contribution(
            module="r",
            sources=tuple(sources),
            root_setup=_root_setup(options),
            dependency_section=_dependency_section(
                options,
                files.rel("install.R") if install_r is not None else None,
                files.rel("renv.lock") if renv is not None else None,
            ),
            repo_section=f"RUN python3 {SCRIPT_IN_IMAGE} packages repo\n",
            labels={"org.bindery.r.mode": options.mode},
            report_files={REPORT_LABEL: REPORT_PATH},
            context_files=context_files,
            summary=tuple(summary),
            notes=tuple(notes),
            # The reproducibility grade: a renv.lock or a dated snapshot pins R's packages.
            pinning="exact" if renv is not None or (runtime is not None and runtime.date)
            else "none",
        )


@dataclass(frozen=True)
class _Wants:
    """What the repository's R files ask for."""

    sources: tuple[str, ...]
    packages: list[r_packages.RequestedPackage]
    calls: tuple[r_packages.InstallCall, ...]
    renv: r_packages.RenvLock | None
    requested_r: str
    notes: tuple[str, ...]


def _gather(files: ConfigFiles, runtime: RRuntime | None, description: str | None,
            renv_text: str | None, install_r: str | None) -> _Wants:
    sources: list[str] = [runtime.source] if runtime is not None else []
    notes: list[str] = []
    wanted: list[r_packages.RequestedPackage] = []
    calls: tuple[r_packages.InstallCall, ...] = ()
    requested_r = runtime.version if runtime else ""
    renv = None
    if renv_text is not None:
        renv = r_packages.from_renv_lock(renv_text, files.rel("renv.lock"))
        sources.append(files.rel("renv.lock"))
        wanted.extend(renv.packages)
        requested_r = requested_r or renv.r_version
        if renv.elsewhere:
            notes.append(f"{files.rel('renv.lock')}: only renv can install "
                         f"{', '.join(renv.elsewhere)} (not from Debian).")
    if install_r is not None:
        calls, from_calls = r_packages.from_install_r(install_r, files.rel("install.R"))
        sources.append(files.rel("install.R"))
        wanted.extend(from_calls)
    if description is not None:
        wanted.extend(r_packages.from_description(description, "DESCRIPTION"))
        sources.append("DESCRIPTION")
    return _Wants(tuple(sources), list(r_packages.unique(wanted)), calls, renv, requested_r, tuple(notes))


def _summary(files: ConfigFiles, options: ROptions, repository: str, wants: _Wants) -> list[str]:
    r_line = "R: Debian's r-base-core with IRkernel (kernel \"R\")"
    if wants.requested_r:
        r_line += (f"; R {wants.requested_r} is asked for, but the R version is the one of the "
                   "base image's Debian release (recorded in the org.bindery.r.report label)")
    summary = [r_line, _source_line(options, repository, wants.packages)]
    not_understood = [c for c in wants.calls if not c.packages]
    if not_understood:
        shown = "; ".join(f"line {c.line}: {c.text}" for c in not_understood)
        summary.append(f"{files.rel('install.R')}: runs only where the repository answers "
                       f"(not mapped to Debian: {shown})")
    if wants.renv is not None:
        count = len(wants.renv.packages)
        summary.append(f"{files.rel('renv.lock')}: {count} package{'' if count == 1 else 's'}, "
                       "restored exactly with renv where the repository answers; else Debian's "
                       "versions, which may differ")
    if options.shiny:
        summary.append("Shiny: Debian's r-cran-shiny; the launcher's \"Shiny\" entry serves "
                       "the app at the repository root (through jupyter-server-proxy)")
    return summary


def _source_line(options: ROptions, repository: str, packages: list[r_packages.RequestedPackage]) -> str:
    mapped = ", ".join(p.debian for p in packages) or "none"
    if options.mode == "debian":
        return f"R packages: from Debian only (mode = \"debian\"): {mapped}"
    if options.mode == "cran":
        return f"R packages: from {repository} (mode = \"cran\"; the build fails if it does not answer)"
    return (f"R packages: from {repository} if it answers within {options.probe_timeout:g} s, "
            f"else from Debian (mode = \"auto\"): {mapped}")


def _root_setup(options: ROptions) -> str:
    """R itself (the same layer for every R repository), then the repository's choice of
    package source and its Debian packages (a layer that changes with install.R)."""
    runtime = ["r-base-core", "r-cran-irkernel"] + (["r-cran-shiny"] if options.shiny else [])
    # Jupyter reads server settings (not only extension switches) from a config *file*,
    # not from jupyter_server_config.d/; the system-wide one stays free for the venv's.
    shiny = f"COPY .bindery/r/shiny-proxy.json {SHINY_CONFIG}\n" if options.shiny else ""
    return f"""\
RUN {_APT_CACHE} \\
    apt-get update -q \\
 && apt-get install -y -q --no-install-recommends {' '.join(runtime)} \\
 && install -d -o 1000 -g 1000 /srv/bindery-r \\
 && chown 1000:1000 /usr/local/lib/R/site-library
{shiny}COPY .bindery/r/bindery_r.py {SCRIPT_IN_IMAGE}
COPY .bindery/r/plan.json /srv/bindery-r/plan.json
RUN {_APT_CACHE} \\
    python3 {SCRIPT_IN_IMAGE} system \\
 && chown -R 1000:1000 /srv/bindery-r
"""


def _dependency_section(options: ROptions, install_r: str | None, renv_lock: str | None) -> str:
    lines = [
        # The kernel goes into the image's Jupyter (the venv), as the user who owns it.
        f"RUN R --quiet --no-save -e 'IRkernel::installspec(prefix = \"{VENV}\", displayname = \"R\")'",
    ]
    if options.shiny:
        lines.append("RUN uv pip install --no-cache jupyter-server-proxy")
    if install_r is not None:
        lines.append(f"COPY --chown=1000:1000 repo/{install_r} {DEPS_DIR}/install.R")
    if renv_lock is not None:
        lines.append(f"COPY --chown=1000:1000 repo/{renv_lock} {DEPS_DIR}/renv.lock")
    lines.append(f"RUN python3 {SCRIPT_IN_IMAGE} packages deps")
    return "\n".join(lines) + "\n"


def _shiny_proxy_config() -> bytes:
    command = ["R", "--quiet", "--no-save", "-e",
               f"shiny::runApp('{HOME}', port = {{port}}, launch.browser = FALSE)"]
    config = {"ServerProxy": {"servers": {"shiny": {
        "command": command,
        "timeout": 60,
        "launcher_entry": {"title": "Shiny"},
    }}}}
    return json.dumps(config, indent=1).encode()
