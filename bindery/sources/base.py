"""The ``Source`` contract: where a repository comes from.

A source turns a user's *spec* (``gh:owner/repo``, a git URL, a local path...)
into an exact, immutable :class:`Ref` *before* anything is built, so the image
name and cache key are derived from what will really be built, then fetches that
exact ref into a directory. Sources are registered under the entry-point group
``bindery.sources``.
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


class Source(ABC):
    """Turns a spec into a :class:`Ref` and a Ref into files on disk."""

    #: Registered name (entry point key), e.g. ``"git"``.
    name: ClassVar[str]
    #: The source's own settings (none for the built-ins).
    options_model: ClassVar[type[PluginOptions]] = PluginOptions

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
