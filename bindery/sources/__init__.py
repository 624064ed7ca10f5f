"""Where repositories come from: the registry of :class:`~bindery.sources.base.Source` classes.

Sources are found through the ``bindery.sources`` entry-point group, so a
third-party package can add one (a new forge, an archive service) without
touching Bindery. :class:`SourceCatalog` makes them with their configured
options; the functions below use each source's defaults.
"""

from __future__ import annotations

from bindery.sources.base import SOURCES, Ref, Source
from bindery.sources.catalog import EXPECTED_FORMS, SourceCatalog, load_sources

__all__ = [
    "EXPECTED_FORMS",
    "SOURCES",
    "Ref",
    "Source",
    "SourceCatalog",
    "find_source",
    "load_sources",
    "resolve",
]

_DEFAULTS = SourceCatalog()


def find_source(spec: str) -> Source:
    """An instance of the first source whose syntax ``spec`` is written in (no I/O)."""
    return _DEFAULTS.find(spec)


def resolve(spec: str, ref: str | None = None) -> Ref:
    """Pin ``spec`` (and ``ref``, default: the default branch) to an exact :class:`Ref`."""
    return _DEFAULTS.resolve(spec, ref)
