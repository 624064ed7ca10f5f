"""Pure data passed from ``detect`` to ``render``.

Detection reads the checkout once and records everything the Dockerfile needs
(including text derived from files, such as a Pipfile converted to requirements),
so rendering never touches the file system and is trivially unit-testable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bindery.environment.lockfiles import Lockfile
from bindery.environment.modules import Contribution


@dataclass(frozen=True)
class Requirements:
    """Python packages to install from one requirements file.

    ``repo_path`` is a file of the checkout (``binder/requirements.txt``);
    ``generated`` holds text Bindery wrote itself (from a Pipfile), shipped as a
    context file. Exactly one of them is set.
    """

    source: str
    #: Path of the requirements file relative to the repository root.
    repo_path: str | None = None
    #: Requirements text made by Bindery (e.g. from Pipfile.lock).
    generated: str | None = None
    #: True when the file refers to the repository (``-e .``, ``-r other.txt``...):
    #: it can only be installed after the whole checkout is copied.
    needs_repo: bool = False
    #: Number of requirement lines, for the human summary.
    count: int = 0
    #: How many of them pin one exact version (``name==1.2.3``), for the grade.
    pinned: int = 0


@dataclass(frozen=True)
class Environment:
    """What a repository needs, as found in its configuration files."""

    #: The Python the image gets ("3.11").
    python_version: str
    #: Where the request came from: "runtime.txt", "Pipfile", "pyproject.toml", "default".
    python_source: str = "default"
    #: What the repository asked for ("3.10", ">=3.12"); "" when it asked for nothing.
    python_requested: str = ""
    #: True: CPython installed by uv from the configured mirror (not the base image's).
    python_managed: bool = False
    #: Said in the build log and on the launch page: the request was not met exactly.
    python_warning: str | None = None
    #: "" (repository root), "binder" or ".binder".
    config_dir: str = ""
    #: The repository's own Dockerfile (path relative to root), used as given.
    dockerfile: str | None = None
    #: Its text (so render stays pure).
    dockerfile_text: str | None = None
    #: The devcontainer.json the Dockerfile was made from ("" = none).
    devcontainer: str = ""
    #: Build context of the Dockerfile, relative to the root ("" = the root).
    docker_context: str = ""
    #: ``--build-arg`` values (devcontainer.json ``build.args``).
    build_args: Mapping[str, str] = field(default_factory=dict)
    #: An image that must already exist on the engine (devcontainer.json ``image``).
    required_image: str = ""
    requirements: Requirements | None = None
    #: uv.lock / pylock.toml, installed exactly (then ``requirements`` is None).
    lockfile: Lockfile | None = None
    #: "setup.py" or "pyproject.toml" when the repository itself is installed as a package.
    install_repo: str | None = None
    apt_packages: tuple[str, ...] = ()
    #: Path (relative to root) of the postBuild script, run once at build time.
    post_build: str | None = None
    #: True when postBuild has no "#!" line and is therefore run with bash.
    post_build_needs_shell: bool = False
    #: Path (relative to root) of the start wrapper, run before every command.
    start: str | None = None
    #: Human notes about files that were found but ignored.
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: What environment modules (conda, R, ...) add, in their order.
    contributions: tuple[Contribution, ...] = ()


@dataclass(frozen=True)
class BuildPlan:
    """Everything the builder needs to run one ``docker build``."""

    #: Text of the Dockerfile.
    dockerfile: str
    #: Support files the builder writes under ``<context>/.bindery/<name>``.
    context_files: dict[str, bytes]
    #: e.g. "bindery/base:bookworm".
    base_image: str
    #: e.g. "3.11" ("unknown" for a repository's own Dockerfile).
    python_version: str
    #: True: the repository's own Dockerfile; the context is the checkout as is.
    uses_repo_dockerfile: bool
    #: Human lines such as "Python 3.11 (runtime.txt)", "apt.txt: 2 packages".
    summary: list[str]
    #: Labels the image gets besides the builder's own: requested/provided Python, and
    #: those contributed by environment modules.
    labels: dict[str, str] = field(default_factory=dict)
    #: Warnings a person must see (build log and launch page), e.g. a substituted Python.
    warnings: tuple[str, ...] = ()
    #: (text found in a Dockerfile step, what a person calls that step), to name the
    #: failing step in error messages: ("./postBuild", "postBuild").
    steps: tuple[tuple[str, str], ...] = ()
    #: Build context of a repository Dockerfile, relative to the root ("" = the root).
    context_dir: str = ""
    #: ``--build-arg`` values.
    build_args: dict[str, str] = field(default_factory=dict)
    #: An image the engine must already have (devcontainer.json ``image``).
    required_image: str = ""
    #: Labels read back from files the build wrote (label → path inside the image).
    report_files: dict[str, str] = field(default_factory=dict)
