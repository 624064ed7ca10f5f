"""The environment-module contract: one ecosystem (conda, R, Julia, Nix, ...) per module.

repo2docker picks one "buildpack" per repository from a fixed, ordered list. Bindery keeps
that precedence by default (so a repository behaves as on mybinder.org) but splits the
work differently: the core path (base image, Python venv with Jupyter, ``apt.txt``, pip
requirements, ``postBuild``, ``start``) is always there, and each ecosystem is a module
that *contributes* to it — a runtime installed as root, its own dependency layer before
the repository copy, steps after the copy, environment variables, labels. Modules never
write a Dockerfile of their own, so layer order (and therefore caching) stays decided in
one place, :mod:`bindery.environment.render`.

Modules are plugins (entry-point group ``bindery.environment_modules``, registered in
:mod:`bindery.builder.modules`, because the registry's option models use a settings library
this pure layer must not import). A module's options are a frozen dataclass
(``options_type``) filled from ``[builder.modules.<name>]``.

Like the rest of this package, a module is pure: it reads the checkout through
:class:`~bindery.environment.repo_files.ConfigFiles` and returns data.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from bindery.environment.options import EnvironmentOptions
from bindery.environment.repo_files import ConfigFiles


@dataclass(frozen=True)
class NoOptions:
    """Options of a module that has none."""


@dataclass(frozen=True)
class HostWork:
    """I/O a module needs done on the builder host before it can decide, which this pure
    layer cannot do itself: probing a package channel, solving and downloading an
    environment. The builder runs the handler registered for ``kind``
    (:mod:`bindery.builder.host_work`); the handler writes its output into the build
    context under ``.bindery/<context_dir>/`` and answers with a :class:`HostResult`."""

    #: Which builder-side handler runs it ("conda").
    kind: str
    #: Plain data (JSON-like) the handler needs; the module builds it from its options.
    request: Mapping[str, Any]
    #: Directory of the build context (under ``.bindery/``) the handler may fill.
    context_dir: str


@dataclass(frozen=True)
class HostResult:
    """What a :class:`HostWork` handler found. ``reachable`` False means the resource did
    not answer (the module may fall back); any other failure is raised by the handler."""

    reachable: bool
    #: One human line: what answered, or why not ("https://... did not answer: DNS failure").
    message: str
    #: The handler's findings (plain data), e.g. the solved package list.
    data: Mapping[str, Any] = field(default_factory=dict)


#: How the builder hands host work to :func:`bindery.environment.detect`.
HostRunner = Callable[[HostWork], HostResult]


@dataclass(frozen=True)
class Contribution:
    """What one module adds to an environment. Every Dockerfile fragment is complete
    instructions (``RUN ...``, ``COPY ...``); render places each at a fixed point of the
    layer order and restores the user it expects afterwards."""

    #: The module's name ("conda", "r", ...), for the summary and labels.
    module: str
    #: Files of the checkout that triggered the module ("binder/environment.yml").
    sources: tuple[str, ...] = ()
    #: Run as root right after the Jupyter layer (which stays shared by every image on
    #: the same base), before ``apt.txt``: runtimes (R, Julia), kernel registration.
    root_setup: str = ""
    #: Replaces the default "venv + Jupyter" section when set (a conda environment that
    #: carries Jupyter itself). It runs as uid 1000 and must leave ``jupyter`` on PATH
    #: through ``env`` below.
    jupyter_section: str = ""
    #: Run as uid 1000 before the repository is copied: dependency files alone, so edits
    #: elsewhere in the repository keep this layer cached.
    dependency_section: str = ""
    #: Run as uid 1000 in $HOME after the repository copy, before ``postBuild``.
    repo_section: str = ""
    #: ``ENV`` values set right after the Jupyter layer; a ``jupyter_section`` that needs
    #: variables sets them itself.
    env: Mapping[str, str] = field(default_factory=dict)
    #: Directories put in front of PATH, in order.
    path_prepend: tuple[str, ...] = ()
    #: Image labels ("org.bindery.conda.fallback" → a JSON report, ...).
    labels: Mapping[str, str] = field(default_factory=dict)
    #: Reports the build itself writes: image label → path of a file inside the image.
    #: The builder reads each file after the build and stores its text in that label
    #: (what only the build can know, e.g. which packages a package index really had).
    report_files: Mapping[str, str] = field(default_factory=dict)
    #: Files written to the build context under ``.bindery/<name>``.
    context_files: Mapping[str, bytes] = field(default_factory=dict)
    #: A Python version the module's files ask for ("3.10" from ``python=3.10``), or None.
    python_request: str | None = None
    #: True when the module installs the Python packages itself, so ``requirements.txt``
    #: is not installed (repo2docker: under conda, requirements.txt is ignored).
    replaces_pip_requirements: bool = False
    #: Lines for the build log's summary ("environment.yml: 12 packages from conda-forge").
    summary: tuple[str, ...] = ()
    #: Things found but not used, said out loud.
    notes: tuple[str, ...] = ()
    #: How exactly the module pins the packages it installs, for the reproducibility
    #: grade (:mod:`bindery.environment.grade`): "exact", "partial", "none"; None when
    #: it installs no packages of its own.
    pinning: str | None = None


class EnvironmentModule(ABC):
    """One ecosystem. Subclasses set the class attributes and implement :meth:`detect`."""

    #: Short name, also the entry-point name and the ``[builder.modules.<name>]`` table.
    name: ClassVar[str] = ""
    #: Configuration files this module understands; a binder directory hides them at the
    #: root, and they are never reported as "not supported".
    claims: ClassVar[tuple[str, ...]] = ()
    #: Lower runs first; between modules, the order of repo2docker's buildpacks.
    order: ClassVar[int] = 100
    #: A frozen dataclass of this module's settings.
    options_type: ClassVar[type[Any]] = NoOptions

    #: Set on the per-build copy made by :meth:`with_host_result` (None: no host work ran).
    host_result: HostResult | None = None

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.options_type()

    def host_work(self, files: ConfigFiles, settings: EnvironmentOptions) -> HostWork | None:
        """Host-side I/O this repository needs before :meth:`detect` (optional; most
        modules need none). Pure: decides from the files and the options only."""
        return None

    def with_host_result(self, result: HostResult) -> Self:
        """A copy of this module that :meth:`detect` sees ``result`` in; the loaded
        module itself is shared by every build and never changed."""
        clone = copy.copy(self)
        clone.host_result = result
        return clone

    @abstractmethod
    def detect(self, files: ConfigFiles, settings: EnvironmentOptions) -> Contribution | None:
        """What this repository needs from the module, or None when it does not apply.

        Invalid files raise :class:`~bindery.environment.errors.RepoConfigError` with a
        message naming the file and the fault.
        """
