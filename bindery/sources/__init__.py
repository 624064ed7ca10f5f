"""Where repositories come from: the registry of :class:`~bindery.sources.base.Source` classes.

Sources are found through the ``bindery.sources`` entry-point group, so a
third-party package can add one (a new forge, an archive service) without
touching Bindery.
"""

from __future__ import annotations

from bindery.errors import SpecError
from bindery.sources.base import SOURCES, Ref, Source

__all__ = ["SOURCES", "Ref", "Source", "find_source", "load_sources", "resolve", "source_named"]


#: Order in which sources are asked whether they accept a spec: specific syntaxes
#: (shorthands, DOIs, then URLs: https://doi.org/... is a URL too) before the catch-all
#: local path; unknown plugins before "local".
_PRIORITY = {"gh": 0, "gl": 0, "gist": 0, "zenodo": 1, "figshare": 1, "dataverse": 1, "git": 5, "local": 100}

EXPECTED_FORMS = (
    "expected a path, a git URL (https://, git://, ssh://, file://) or "
    "gh:owner/repo, gl:group/project, gist:user/id (or a zenodo:/figshare:/dataverse: DOI)"
)


def load_sources() -> list[type[Source]]:
    """Every installed Source class, the most specific syntax first."""
    found = SOURCES.load_all()
    return sorted(found.values(), key=lambda cls: (_PRIORITY.get(cls.name, 50), cls.name))


def source_named(name: str) -> Source:
    """An instance of the Source registered as ``name`` (the ``source`` of a Ref)."""
    return SOURCES.load(name)()


def find_source(spec: str) -> Source:
    """An instance of the first source whose syntax ``spec`` is written in (no I/O)."""
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError(f"No repository was given; {EXPECTED_FORMS}.")
    for cls in load_sources():
        if cls.accepts(spec):
            return cls()
    raise SpecError(f"cannot tell what kind of repository {spec[:200]!r} is; {EXPECTED_FORMS}.")


def resolve(spec: str, ref: str | None = None) -> Ref:
    """Pin ``spec`` (and ``ref``, default: the default branch) to an exact :class:`Ref`."""
    return find_source(spec).resolve(spec, ref)
