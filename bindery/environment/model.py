"""Pure data passed from ``detect`` to ``render``.

Detection reads the checkout once and records everything the Dockerfile needs
(including text derived from files, such as a Pipfile converted to requirements),
so rendering never touches the file system and is trivially unit-testable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Environment:
    """What a repository needs, as found in its configuration files."""

    python_version: str
    #: Where the version came from: "runtime.txt", "Pipfile", "default".
    python_source: str = "default"
    #: "" (repository root), "binder" or ".binder".
    config_dir: str = ""
    #: The repository's own Dockerfile (path relative to root), used as given.
    dockerfile: str | None = None
    #: Its text (so render stays pure).
    dockerfile_text: str | None = None
    requirements: Requirements | None = None
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
    #: Image labels contributed by environment modules (the builder adds provenance).
    labels: dict[str, str] = field(default_factory=dict)
