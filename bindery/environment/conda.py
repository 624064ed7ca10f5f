"""The conda module: ``environment.yml`` / ``.yaml``, ``conda-lock.yml`` and ``pixi.lock``.

Two ways to the same environment, chosen by ``[builder.modules.conda] mode``:

``conda``
    The real client (py-rattler) on the **builder host** probes the channels, solves,
    downloads and links the environment into the build context with ``/srv/conda``
    written into its files; the image only copies that prefix. Why on the host and not
    inside the build: the host keeps one package cache for every build, the build
    container needs no route to the channels (a channel on the host's own 127.0.0.1, a
    mirror on a private network), only channels the deployment configured are ever
    fetched from the host, and the image needs no conda client at all.
``fallback``
    The same packages from PyPI (:mod:`bindery.environment.conda_pypi`), installed with
    uv into the image's Python like a ``requirements.txt``; the report of what was mapped
    and dropped is in the build log and in the ``org.bindery.conda`` label.
``auto`` (default)
    ``conda`` when every channel answers a short probe from the builder host, else
    ``fallback`` (the summary says which and why).

Precedence is repo2docker's: under conda, ``requirements.txt`` and Pipfiles are not
installed (``replaces_pip_requirements``). This module is pure; the host side lives in
:mod:`bindery.builder.conda_client`.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bindery.environment.conda_file import CondaEnvFile, parse_environment_file
from bindery.environment.conda_pypi import plan_fallback, refers_to_repo
from bindery.environment.errors import RepoConfigError
from bindery.environment.grade import EXACT, PARTIAL, UNPINNED, is_exact_pin
from bindery.environment.modules import Contribution, EnvironmentModule, HostWork
from bindery.environment.options import EnvironmentOptions
from bindery.environment.repo_files import ConfigFiles

ENV_FILES = ("environment.yml", "environment.yaml")
LOCK_FILES = ("conda-lock.yml", "pixi.lock")
#: Where the builder host puts the linked environment in the build context (.bindery/...).
ENV_CONTEXT_DIR = "conda-env"
FALLBACK_CONTEXT_NAME = "conda-fallback-requirements.txt"
PIP_CONTEXT_NAME = "conda-pip-requirements.txt"
#: Holds a ``jupyter`` that is the image's own, ahead of the conda environment on PATH, so
#: ``jupyter lab`` keeps meaning Bindery's server when the environment brings jupyter_core.
SHIM_DIR = "/usr/local/lib/bindery-conda/bin"
LABEL = "org.bindery.conda"
# Same cache mount as render's installs, so fallback builds share uv's cache.
_UV = ("--mount=type=cache,target=/tmp/uv-cache,uid=1000,gid=1000,id=bindery-uv \\\n"
       "    UV_CACHE_DIR=/tmp/uv-cache UV_LINK_MODE=copy")
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*")


@dataclass(frozen=True)
class CondaOptions:
    """``[builder.modules.conda]``."""

    #: "auto" (probe the channels, fall back to PyPI), "conda" (the client or an error),
    #: "fallback" (always PyPI).
    mode: Literal["auto", "conda", "fallback"] = "auto"
    #: Channels of a file that names none, and what ``defaults`` stands for.
    channels: tuple[str, ...] = ("conda-forge",)
    #: Base URL of channel names ("conda-forge" → <alias>/conda-forge).
    channel_alias: str = "https://conda.anaconda.org"
    #: A URL per channel name (a mirror); wins over the alias. Lock files' package URLs
    #: under ``<channel_alias>/<name>`` are fetched from here too.
    channel_urls: Mapping[str, str] = field(default_factory=dict)
    #: Seconds the builder host waits for each channel's ``noarch/repodata.json`` to answer.
    probe_timeout: float = 3.0
    #: Where the environment lives in the image.
    prefix: str = "/srv/conda"
    #: Added to every solved environment that has Python, so it becomes the notebook kernel.
    kernel_packages: tuple[str, ...] = ("ipykernel",)
    #: Host directory of downloaded packages and repodata ("" = <builder.work_dir>/conda-cache).
    cache_dir: str = ""
    #: Platform solved for.
    platform: str = "linux-64"


@dataclass(frozen=True)
class _Found:
    env_file: CondaEnvFile | None
    lock_name: str | None
    lock_text: str | None

    @property
    def sources(self) -> tuple[str, ...]:
        names = [self.env_file.path] if self.env_file else []
        return (*names, *([self.lock_name] if self.lock_name else []))


class CondaModule(EnvironmentModule):
    """conda environments, with the PyPI fallback when no channel answers."""

    name = "conda"
    claims = (*ENV_FILES, *LOCK_FILES)
    # repo2docker checks conda before pip; the module installs Python packages itself.
    order = 10
    options_type = CondaOptions
    options: CondaOptions

    # -- host work ----------------------------------------------------------

    def host_work(self, files: ConfigFiles, settings: EnvironmentOptions) -> HostWork | None:
        found = self._find(files)
        if found is None or self.options.mode == "fallback":
            return None
        channels, refusal = self._channel_urls(found)
        if refusal:
            return None
        specs: list[str] = []
        if found.env_file is not None:
            # "conda-forge::numpy": the channel joins the channel list (through the same
            # rules as every channel); the solver gets the spec without it.
            specs = [s.text.split("::", 1)[1].strip() if s.channel else s.text
                     for s in found.env_file.dependencies]
        request: dict[str, Any] = {
            "source": ", ".join(found.sources),
            "channels": channels,
            "specs": specs,
            "kernel_packages": list(self.options.kernel_packages),
            "prefix": self.options.prefix,
            "platform": self.options.platform,
            "probe_timeout": self.options.probe_timeout,
            "cache_dir": self.options.cache_dir,
            "mirrors": self._mirrors(),
            "allowed_prefixes": self._allowed_prefixes(),
            "lock_name": found.lock_name,
            "lock_text": found.lock_text,
        }
        return HostWork(kind="conda", request=request, context_dir=ENV_CONTEXT_DIR)

    # -- detect -------------------------------------------------------------

    def detect(self, files: ConfigFiles, settings: EnvironmentOptions) -> Contribution | None:
        found = self._find(files)
        if found is None:
            return None
        mode = self.options.mode
        where = ", ".join(found.sources)
        if mode == "fallback":
            return self._fallback(found, f"builder.modules.conda mode is {mode!r}")
        _, refusal = self._channel_urls(found)
        if refusal:
            if mode == "conda":
                raise RepoConfigError(f"{where}: {refusal}")
            return self._fallback(found, refusal)
        result = self.host_result
        if result is None:
            if mode == "conda":
                return self._client(found, {})
            return self._fallback(found, "the channels were not probed (no builder host)")
        if result.reachable:
            return self._client(found, dict(result.data))
        if mode == "conda":
            raise RepoConfigError(
                f"{where} needs a conda channel and builder.modules.conda mode is 'conda', "
                f"but {result.message}. Set mode = \"auto\" to fall back to PyPI, or configure "
                "a reachable mirror (channel_urls / channel_alias)."
            )
        return self._fallback(found, result.message)

    # -- reading ------------------------------------------------------------

    def _find(self, files: ConfigFiles) -> _Found | None:
        present = [n for n in ENV_FILES if files.has(n)]
        if len(present) > 1:
            raise RepoConfigError(
                f"The repository has both {files.rel(present[0])} and {files.rel(present[1])}; "
                "keep only one conda environment file."
            )
        env_file = None
        if present:
            text = files.read_text(present[0]) or ""
            env_file = parse_environment_file(text, files.rel(present[0]))
        lock_name: str | None = None
        lock_text: str | None = None
        for name in LOCK_FILES:
            lock_text = files.read_text(name)
            if lock_text is not None:
                lock_name = files.rel(name)
                break
        if env_file is None and lock_name is None:
            return None
        return _Found(env_file, lock_name, lock_text)

    # -- channels -----------------------------------------------------------

    def _channel_urls(self, found: _Found) -> tuple[list[str], str]:
        """The URLs to solve from, or a reason they cannot be used here."""
        named = list(found.env_file.channels) if found.env_file else []
        names = named or list(self.options.channels)
        if found.env_file is not None:
            names += [s.channel for s in found.env_file.dependencies if s.channel]
        urls: list[str] = []
        for name in names:
            if name == "nodefaults":
                continue
            expanded = list(self.options.channels) if name == "defaults" else [name]
            for item in expanded:
                url, refusal = self._channel_url(item)
                if refusal:
                    return [], refusal
                if url not in urls:
                    urls.append(url)
        return urls, ""

    def _channel_url(self, name: str) -> tuple[str, str]:
        configured = {v.rstrip("/") for v in self.options.channel_urls.values()}
        if "://" in name:
            url = name.rstrip("/")
            allowed = self._allowed_prefixes()
            if url in configured or any(url.startswith(p) for p in allowed if "://" in p):
                return url, ""
            return "", (
                f"channel {name} is a URL this deployment does not allow (only channel names "
                "and the URLs in builder.modules.conda channel_urls / channel_alias are fetched)"
            )
        if not _CHANNEL_NAME.fullmatch(name) or ".." in name:
            return "", f"channel {name!r} is not a channel name"
        if name in self.options.channel_urls:
            return self.options.channel_urls[name].rstrip("/"), ""
        return f"{self.options.channel_alias.rstrip('/')}/{name}", ""

    def _allowed_prefixes(self) -> list[str]:
        alias = self.options.channel_alias.rstrip("/") + "/"
        return [alias, *(v.rstrip("/") + "/" for v in self.options.channel_urls.values())]

    def _mirrors(self) -> dict[str, str]:
        alias = self.options.channel_alias.rstrip("/")
        return {f"{alias}/{name}": url.rstrip("/") for name, url in self.options.channel_urls.items()}

    # -- the two contributions ------------------------------------------------

    def _client(self, found: _Found, data: dict[str, Any]) -> Contribution:
        prefix = self.options.prefix
        env_file = found.env_file
        # A lock's own PyPI packages are exact; the file's pip: list comes after them.
        pip = (*data.get("pip_pins", ()), *(env_file.pip if env_file else ()))
        context: dict[str, bytes] = {}
        dependency = [
            f"COPY --chown=1000:1000 .bindery/{ENV_CONTEXT_DIR}/ {prefix}/",
            # Packages' post-link scripts (bin/.<name>-post-link.sh) run here, inside the
            # build as the user, as conda runs them after linking; never on the host.
            f"RUN for script in {prefix}/bin/.*-post-link.sh; do \\\n"
            '      [ -f "$script" ] || continue; name=$(basename "$script" -post-link.sh); \\\n'
            f'      PREFIX={prefix} PKG_NAME="${{name#.}}" /bin/bash "$script" \\\n'
            '        || { echo "conda post-link script of ${name#.} failed" >&2; exit 1; }; \\\n'
            "    done",
            # The environment's Python becomes the notebook kernel when it has ipykernel: a
            # kernelspec naming its interpreter by absolute path (a bare "python" would be
            # replaced by the server's own interpreter), found first through JUPYTER_PATH.
            f"RUN if [ -x {prefix}/bin/python ] && {prefix}/bin/python -c 'import ipykernel' "
            "2>/dev/null; then \\\n"
            f"      {prefix}/bin/python -m ipykernel install --prefix {prefix} --name python3 "
            "--display-name 'Python 3 (conda)' >/dev/null; fi",
        ]
        repo_lines: list[str] = []
        if pip:
            context[PIP_CONTEXT_NAME] = ("\n".join(pip) + "\n").encode()
            install = f"uv pip install --python {prefix}/bin/python -r"
            if any(refers_to_repo(line) for line in pip):
                repo_lines += [
                    f"COPY --chown=1000:1000 .bindery/{PIP_CONTEXT_NAME} /tmp/bindery-deps/{PIP_CONTEXT_NAME}",
                    f"RUN {_UV} {install} /tmp/bindery-deps/{PIP_CONTEXT_NAME}",
                ]
            else:
                dependency += [
                    f"COPY --chown=1000:1000 .bindery/{PIP_CONTEXT_NAME} /tmp/bindery-deps/{PIP_CONTEXT_NAME}",
                    f"RUN {_UV} {install} /tmp/bindery-deps/{PIP_CONTEXT_NAME}",
                ]
        packages = list(data.get("packages", []))
        report = {
            "mode": "conda",
            "channels": list(data.get("channels", [])),
            "lock": found.lock_name or "",
            "packages": [f"{p['url']}#sha256={p.get('sha256', '')}" for p in packages],
            "pip": list(pip),
        }
        where = ", ".join(found.sources)
        how = f"exactly as {found.lock_name} pins them" if found.lock_name else "solved"
        summary = [
            f"{where}: conda environment in {prefix}, {len(packages)} packages {how} "
            f"by the conda client (py-rattler) from {', '.join(report['channels']) or 'the channels'}"
        ]
        if data.get("python"):
            kernel = (
                "is the notebook kernel"
                if any(p.get("name") == "ipykernel" for p in packages)
                else "is on PATH; the notebook kernel stays the image's Python (no ipykernel "
                "in the environment)"
            )
            summary.append(f"{where}: Python {data['python']} from conda {kernel}")
        if pip:
            summary.append(f"{where}: pip: {len(pip)} requirement(s) installed into {prefix} with uv")
        notes = []
        if found.lock_name and env_file is not None:
            notes.append(f"{env_file.path}: its conda packages come from {found.lock_name} (the lock wins)")
        return Contribution(
            module=self.name,
            sources=found.sources,
            root_setup=(
                f"RUN install -d -o 1000 -g 1000 {prefix} \\\n"
                f" && install -d {SHIM_DIR} && ln -sf /srv/venv/bin/jupyter {SHIM_DIR}/jupyter"
            ),
            dependency_section="\n".join(dependency),
            repo_section="\n".join(repo_lines),
            # JUPYTER_PATH: the server sees the environment's kernels (python3, R's ir, ...)
            # and its prebuilt JupyterLab extensions (ipywidgets' manager, ...).
            env={"CONDA_DIR": prefix, "CONDA_PREFIX": prefix, "KERNEL_PYTHON_PREFIX": prefix,
                 "JUPYTER_PATH": f"{prefix}/share/jupyter",
                 **dict(env_file.variables if env_file else ())},
            path_prepend=(SHIM_DIR, f"{prefix}/bin"),
            labels={LABEL: json.dumps(report, separators=(",", ":"))},
            context_files=context,
            replaces_pip_requirements=True,
            summary=tuple(summary),
            notes=tuple(notes),
            pinning=EXACT if found.lock_name and not (env_file and env_file.pip)
            else conda_pinning(env_file),
        )

    def _fallback(self, found: _Found, reason: str) -> Contribution:
        env_file = found.env_file
        if env_file is None:
            raise RepoConfigError(
                f"{found.lock_name} pins exact conda packages, which only a conda channel can "
                f"provide, but {reason}. Add an environment.yml (installed from PyPI then) or "
                "configure a reachable channel mirror in [builder.modules.conda]."
            )
        plan = plan_fallback(env_file)
        report: dict[str, Any] = {
            "mode": "fallback",
            "reason": reason,
            "mapped": list(plan.mapped),
            "dropped": list(plan.dropped),
            "pip": list(env_file.pip),
        }
        notes: list[str] = []
        if found.lock_name:
            notes.append(
                f"{found.lock_name} not used: its exact conda packages need a reachable conda channel"
            )
            report["lock_not_used"] = found.lock_name
        context = {FALLBACK_CONTEXT_NAME: ("\n".join(plan.requirements) + "\n").encode()}
        target = f"/tmp/bindery-deps/{FALLBACK_CONTEXT_NAME}"
        install = [
            f"COPY --chown=1000:1000 .bindery/{FALLBACK_CONTEXT_NAME} {target}",
            f"RUN {_UV} uv pip install -r {shlex.quote(target)}",
        ]
        if not plan.requirements:
            install = []
        summary = [
            f"{env_file.path}: PyPI fallback ({reason}): {len(plan.mapped)} conda package(s) "
            f"mapped to PyPI, {len(plan.dropped)} dropped, {len(env_file.pip)} from pip:",
        ]
        summary += [
            f"  conda {m['conda']} → PyPI {m['pypi']}" + (f" ({m['note']})" if m.get("note") else "")
            for m in plan.mapped
        ]
        summary += [f"  conda {d['conda']} not installed: {d['why']}" for d in plan.dropped]
        return Contribution(
            module=self.name,
            sources=found.sources,
            dependency_section="" if plan.needs_repo else "\n".join(install),
            repo_section="\n".join(install) if plan.needs_repo else "",
            env=dict(env_file.variables),
            labels={LABEL: json.dumps(report, separators=(",", ":"), ensure_ascii=False)},
            context_files=context,
            python_request=env_file.python_version,
            replaces_pip_requirements=True,
            summary=tuple(summary),
            notes=tuple(notes),
            pinning=conda_pinning(env_file),
        )


def conda_pinning(env_file: CondaEnvFile | None) -> str:
    """How exactly an environment.yml pins its packages (for the reproducibility grade):
    ``==1.2.3`` or ``=1.2.3`` (three parts, no ``*``) per conda package, ``==`` per pip line;
    ``python`` and ``pip`` themselves do not count."""
    if env_file is None:
        return UNPINNED
    specs = [d for d in env_file.dependencies if d.name not in ("python", "pip")]
    exact = [d for d in specs if re.fullmatch(r"==?\d+(\.[0-9A-Za-z]+){2,}", d.version or "")]
    pins = [line for line in env_file.pip if is_exact_pin(line)]
    total, pinned = len(specs) + len(env_file.pip), len(exact) + len(pins)
    if total and pinned == total:
        return EXACT
    return PARTIAL if pinned else UNPINNED

