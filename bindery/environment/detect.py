"""Repository checkout → :class:`Environment`: pure reading, no other I/O.

Precedence follows mybinder.org / repo2docker:

1. ``binder/`` or ``.binder/`` (never both) hides every root configuration file;
2. a ``Dockerfile`` there is used as given and nothing else applies;
3. Python: the version comes from ``runtime.txt``, else an environment module's
   request (conda's ``python=``), else the Pipfile in use, else ``pyproject.toml``'s
   ``requires-python``, else ``environment.yml``'s ``python`` pin when no module
   claims it (see ``interpreters``); packages come from ``uv.lock``, else
   ``pylock.toml``, else ``Pipfile.lock``, else ``Pipfile``, else
   ``requirements.txt``; without a binder directory a root ``setup.py`` /
   ``pyproject.toml`` is installed as a package, except with a Pipfile (mybinder.org:
   only if the Pipfile names it) or a uv.lock (``uv sync`` installs the project);
4. ``apt.txt``, ``postBuild`` and ``start`` add to any of the above;
5. environment modules (conda, R, ...; :mod:`bindery.environment.modules`) contribute in
   their ``order``; a module that installs the Python packages itself
   (``replaces_pip_requirements``) makes ``requirements.txt``/Pipfile/lockfiles unused,
   as repo2docker's conda buildpack does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bindery.environment import (
    apt,
    devcontainer,
    interpreters,
    lockfiles,
    pipfile,
    python,
    scripts,
)
from bindery.environment.dockerfile import repo_dockerfile
from bindery.environment.errors import RepoConfigError
from bindery.environment.model import Environment, Requirements
from bindery.environment.modules import Contribution, EnvironmentModule, HostRunner
from bindery.environment.options import EnvironmentOptions
from bindery.environment.repo_files import ConfigFiles

#: Root files that configure an environment; listed when a binder dir hides them.
_ROOT_CONFIG_FILES = (
    "Dockerfile",
    "runtime.txt",
    "requirements.txt",
    "Pipfile",
    "Pipfile.lock",
    "uv.lock",
    "pylock.toml",
    "setup.py",
    "apt.txt",
    "postBuild",
    "start",
    "environment.yml",
)
#: Files of ecosystems Bindery does not build yet: mentioned, never silently ignored.
_UNSUPPORTED = {
    "install.R": "R (install.R)",
    "DESCRIPTION": "R packages (DESCRIPTION)",
    "Project.toml": "Julia (Project.toml)",
    "REQUIRE": "Julia (REQUIRE)",
    "default.nix": "Nix (default.nix)",
}


def default_environment(settings: EnvironmentOptions) -> Environment:
    """The environment of a repository without any configuration: JupyterLab,
    Notebook 7 and ipykernel on the default Python (the hub's default image)."""
    return Environment(python_version=settings.default_python, python_source="default")


def detect(
    repo_dir: Path, settings: EnvironmentOptions, modules: Sequence[EnvironmentModule] = (),
    run_host_work: HostRunner | None = None,
) -> Environment:
    """What ``repo_dir`` needs; invalid or unsupported configuration raises RepoConfigError.

    ``modules`` are the installed environment modules (the builder loads them from the
    registry); each one that applies adds its :class:`Contribution`. ``run_host_work``
    (given by the builder) does the host-side I/O a module asks for (a conda solve)
    before that module's ``detect``; without it, modules decide without host results.
    """
    if not repo_dir.is_dir():
        raise RepoConfigError(f"{repo_dir} is not a directory; nothing to build.")
    files = ConfigFiles(repo_dir)
    claimed = {name for module in modules for name in module.claims}
    notes = _hidden_root_files(files, claimed)

    found = repo_dockerfile(files)
    container = devcontainer.find(files) if found is None else None
    if container is not None:
        present = [name for name in (*_ROOT_CONFIG_FILES, *sorted(claimed), "pyproject.toml")
                   if files.has(name)]
        if not present:
            dev = devcontainer.read(files, *container, features_policy=settings.devcontainer_features)
            return Environment(
                python_version=settings.default_python,
                python_source="devcontainer.json",
                dockerfile=dev.dockerfile or dev.path,
                dockerfile_text=dev.dockerfile_text,
                devcontainer=dev.path,
                docker_context=dev.context,
                build_args=dict(dev.build_args),
                required_image=dev.image,
                notes=(*notes, *dev.notes),
            )
        notes.append(f"{container[0]} ignored: {', '.join(present)} configure the environment "
                     "(Binder configuration wins, as on mybinder.org)")
    ignored = next((p for p in devcontainer.LOCATIONS if files.root_has(p)), None)
    if ignored is not None and container is None:
        used = f"{files.config_dir}/" if files.config_dir else (found[0] if found else "")
        notes.append(f"{ignored} ignored: {used} configures the environment "
                     "(Binder configuration wins, as on mybinder.org)")
    if found is not None:
        path, text = found
        return Environment(
            python_version=settings.default_python,
            python_source="Dockerfile",
            config_dir=files.config_dir,
            dockerfile=path,
            dockerfile_text=text,
            notes=tuple(notes),
        )

    contributions = tuple(
        c for module in sorted(modules, key=lambda m: (m.order, m.name))
        if (c := _with_host_work(module, files, settings, run_host_work).detect(files, settings))
        is not None
    )
    replacing = next((c for c in contributions if c.replaces_pip_requirements), None)
    lock, lock_notes = lockfiles.find_lockfile(files)
    notes.extend(lock_notes)
    if lock is not None and replacing is not None:
        notes.append(f"{lock.source} ignored: {', '.join(replacing.sources)} installs the "
                     "packages (as on mybinder.org).")
        lock = None
    requirements = _python_requirements(files, settings, notes, claimed, lock)
    if requirements is not None and replacing is not None:
        notes.append(
            f"{requirements[0].source} ignored: {', '.join(replacing.sources)} installs the "
            "packages (as on mybinder.org)."
        )
        requirements = None
    request = _python_request(files, settings, requirements, contributions, claimed)
    choice = interpreters.choose(request, settings)
    install_repo = python.repo_package(files)
    if install_repo is not None and replacing is not None:
        # repo2docker's conda buildpack does not install setup.py either.
        notes.append(f"{install_repo} not installed: {', '.join(replacing.sources)} sets up "
                     "the environment (as on mybinder.org); add '-e .' to its pip: list to install it.")
        install_repo = None
    if install_repo is not None and requirements is not None and requirements[0].generated:
        # mybinder.org: with a Pipfile, the repository is installed only when the
        # Pipfile names it (``path = "."``).
        notes.append(f"{install_repo} not installed as a package: {requirements[0].source} "
                     "decides what is installed (name the repository there to install it).")
        install_repo = None
    if install_repo is not None and lock is not None and lock.kind == lockfiles.UV_LOCK:
        install_repo = None  # uv sync installs the project itself, as its lock says
    post_build, post_build_needs_shell = scripts.post_build(files)
    for name, what in _UNSUPPORTED.items():
        if name not in claimed and files.has(name):
            notes.append(f"{files.rel(name)} ignored: {what} is not supported yet.")
    return Environment(
        python_version=choice.version,
        python_source=choice.origin,
        python_requested=choice.requested,
        python_managed=choice.managed,
        python_warning=choice.warning,
        config_dir=files.config_dir,
        requirements=requirements[0] if requirements else None,
        lockfile=lock,
        install_repo=install_repo,
        apt_packages=apt.apt_packages(files),
        post_build=post_build,
        post_build_needs_shell=post_build_needs_shell,
        start=scripts.start_script(files),
        notes=tuple(notes),
        contributions=contributions,
    )


def _with_host_work(
    module: EnvironmentModule, files: ConfigFiles, settings: EnvironmentOptions,
    run_host_work: HostRunner | None,
) -> EnvironmentModule:
    work = module.host_work(files, settings) if run_host_work is not None else None
    return module if work is None or run_host_work is None else module.with_host_result(
        run_host_work(work))


def _hidden_root_files(files: ConfigFiles, claimed: set[str]) -> list[str]:
    if not files.config_dir:
        return []
    names = [*_ROOT_CONFIG_FILES, *sorted(claimed - set(_ROOT_CONFIG_FILES))]
    hidden = [name for name in names if files.root_has(name)]
    if not hidden:
        return []
    return [f"{files.config_dir}/ is used, so these root files are ignored: {', '.join(hidden)}"]


def _python_request(
    files: ConfigFiles,
    settings: EnvironmentOptions,
    requirements: tuple[Requirements, str | None] | None,
    contributions: tuple[Contribution, ...],
    claimed: set[str],
) -> interpreters.PythonRequest | None:
    """The first file that asks for a Python, in the documented order."""
    request = interpreters.runtime_request(files, settings)
    for c in contributions:
        if request is None and c.python_request is not None:
            request = interpreters.PythonRequest(", ".join(c.sources) or c.module,
                                                 version=c.python_request)
    if request is None and requirements is not None:
        request = interpreters.pipfile_request(requirements[1], requirements[0].source)
    if request is None:
        request = interpreters.pyproject_request(files)
    if request is None:
        conda = next((n for n in ("environment.yml", "environment.yaml")
                      if n not in claimed and files.has(n)), None)
        text = files.read_text(conda) if conda else None
        if conda and text is not None:
            request = interpreters.conda_python_request(text, files.rel(conda))
    return request


def _python_requirements(
    files: ConfigFiles, settings: EnvironmentOptions, notes: list[str], claimed: set[str],
    lock: lockfiles.Lockfile | None = None,
) -> tuple[Requirements, str | None] | None:
    """Requirements to install, and a Python version the Pipfile asks for (if any).

    A lockfile (``lock``) wins over all of them: they are noted as ignored.
    """
    conda = next(
        (n for n in ("environment.yml", "environment.yaml") if n not in claimed and files.has(n)),
        None,
    )
    if lock is not None:
        for name in ("Pipfile.lock", "Pipfile", "requirements.txt"):
            if files.has(name):
                notes.append(f"{files.rel(name)} ignored: {lock.source} takes precedence.")
        if conda is not None:
            notes.append(f"{files.rel(conda)} ignored (conda is not supported yet); "
                          f"using {lock.source}.")
        return None
    chosen: tuple[Requirements, str | None] | None = None
    for name, convert in (("Pipfile.lock", pipfile.from_lock), ("Pipfile", pipfile.from_pipfile)):
        text = files.read_text(name)
        if text is None:
            continue
        converted = convert(text, files.config_dir, files.rel(name))
        chosen = (
            Requirements(
                source=files.rel(name),
                generated=converted.text,
                needs_repo=converted.needs_repo,
                count=converted.count,
                pinned=python.count_pinned(python.logical_lines(converted.text)),
            ),
            converted.python_version,
        )
        break
    plain = python.requirements_file(files)
    if chosen is not None:
        if plain is not None:
            notes.append(f"{plain.source} ignored: {chosen[0].source} takes precedence.")
    elif plain is not None:
        chosen = (plain, None)
    if conda is not None:
        if chosen is None:
            raise RepoConfigError(
                f"{files.rel(conda)} asks for a conda environment; conda is not supported yet "
                "(its channels cannot be reached from this Bindery). Add a requirements.txt "
                "with the same packages to use pip instead."
            )
        notes.append(
            f"{files.rel(conda)} ignored (conda is not supported yet); using {chosen[0].source}."
        )
    return chosen
