"""The ``Source`` contract: where a repository comes from.

A source turns a user's *spec* (``gh:owner/repo``, a git URL, a local path...)
into an exact, immutable :class:`Ref` *before* anything is built, so the image
name and cache key are derived from what will really be built, then fetches that
exact ref into a directory. Sources are registered under the entry-point group
``bindery.sources``.

A source may also be launched from a binder link ``/v2/<provider>/<spec>``: it then
declares a :class:`LaunchProvider` that reads the link's ``<spec>`` (the launch
service derives its provider list from the installed sources, so a third-party
source becomes launchable by declaring one).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from bindery.plugins import PluginGroup, PluginOptions


@dataclass(frozen=True)
class Ref:
    """An exact, reproducible pointer to repository contents.

    ``url`` is the canonical fetch location (a git URL or a local path),
    ``resolved`` the exact commit SHA (or record id / content hash for non-git
    sources), ``requested`` what the user asked for (branch, tag, ``HEAD``...).
    ``source`` is the registered name of the Source that made it.
    """

    source: str
    url: str
    resolved: str
    requested: str | None = None
    #: Human-friendly repository name used to derive image names ("owner/repo").
    display_name: str = ""


#: The ref a binder link names when it names none: the default branch.
DEFAULT_LINK_REF = "HEAD"


@dataclass(frozen=True)
class LinkSpec:
    """A binder link's ``<spec>`` as its source reads it (pure: nothing was contacted)."""

    #: The spec in its canonical link form (URL-encoded where the grammar says so).
    spec: str
    #: The same spec without the ref: the repository, the unit of quotas and bans.
    repository: str
    #: What the source's :meth:`Source.resolve` accepts for this repository.
    source_spec: str
    #: The ref as asked; :data:`DEFAULT_LINK_REF` asks for the default branch.
    ref: str
    #: Where people find the repository.
    repo_url: str
    #: Where people browse one exact commit: this followed by the commit ("" = ``repo_url``).
    commit_url_prefix: str = ""
    #: True when the link names its own host (an arbitrary git URL), which a public
    #: service must check is not a local or private address before contacting it.
    names_host: bool = False
    #: The URL whose host that check applies to ("" = ``source_spec``, a git URL).
    host_url: str = ""


@dataclass(frozen=True)
class LaunchProvider(ABC):
    """How a source appears in binder links and on the launch form.

    ``id`` is the link's ``<provider>``; it and the other fields are what the form's
    provider menu and ``/api/repoproviders`` show (BinderHub's field names).
    """

    id: str
    display_name: str
    repo_label: str
    placeholder: str
    #: Whether a branch/tag/commit can be chosen (published records are immutable).
    has_ref: bool = True
    #: Position in the provider menu, lower first (third parties: after the built-ins).
    order: int = 100
    #: What a form may submit as the spec (BinderHub's ``spec.validateRegex``).
    validate_regex: str = ".+"
    #: Recognises a pasted URL of this provider, with a named group ``repo``
    #: (BinderHub's ``detect.regex``, JavaScript syntax); None: no detection.
    detect_regex: str | None = None
    #: Whether the form URL-encodes the repository part of the spec (``urlEncode``).
    url_encode: bool = False

    @abstractmethod
    def parse(self, spec: str) -> LinkSpec:
        """Read the link's ``<spec>`` (still URL-encoded, not empty); SpecError when malformed.

        Pure: the spec is checked without contacting anything, so a refusal can be
        explained before any work starts.
        """

    @abstractmethod
    def spec_for(self, repository: str, ref: str) -> str:
        """The link's ``<spec>`` for a repository and ref as a person typed them (not encoded)."""


class Source(ABC):
    """Turns a spec into a :class:`Ref` and a Ref into files on disk."""

    #: Registered name (entry point key), e.g. ``"git"``.
    name: ClassVar[str]
    #: The source's own settings (``[sources.<name>]`` in bindery.toml).
    options_model: ClassVar[type[PluginOptions]] = PluginOptions
    #: How binder links name this source; ``None``: it cannot be launched from a link.
    launch_provider: ClassVar[LaunchProvider | None] = None

    @classmethod
    def from_options(cls, options: PluginOptions) -> Source:
        """An instance configured with its ``[sources.<name>]`` options.

        The default suits sources without settings; a source with an
        ``options_model`` overrides this to read its own fields.
        """
        return cls()

    @classmethod
    @abstractmethod
    def accepts(cls, spec: str) -> bool:
        """True when ``spec`` is written in this source's syntax (no I/O)."""

    @abstractmethod
    def resolve(self, spec: str, ref: str | None = None) -> Ref:
        """Validate ``spec`` and pin ``ref`` (default: the default branch) to an exact one.

        Raises :class:`~bindery.errors.SpecError` for malformed or unsafe input
        (without contacting anything), :class:`~bindery.errors.RefNotFound` for a
        ref that does not exist and :class:`~bindery.errors.SourceError` for an
        unreachable or missing repository.
        """

    @abstractmethod
    def fetch(self, ref: Ref, dest: Path, max_bytes: int | None = None) -> Path:
        """Materialise exactly ``ref`` into the empty directory ``dest``; return it.

        ``max_bytes`` bounds what may be written: a source stops as soon as it
        knows the repository is larger (declared size, or measured while fetching)
        and raises :class:`~bindery.errors.SourceError`, leaving nothing behind.
        """


#: Every installed Source (entry-point group ``bindery.sources``).
SOURCES: PluginGroup[Source] = PluginGroup("bindery.sources", Source, "source")
