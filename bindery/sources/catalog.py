"""The installed sources, each configured with its own ``[sources.<name>]`` options.

Whoever turns specs into refs (the builder, and through it the binder) holds one
catalog, made once by the composition root, so a configured source (a self-hosted
GitLab, a Zenodo sandbox, a longer git timeout) is used the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from bindery.errors import SpecError
from bindery.plugins import PluginOptions
from bindery.sources.base import SOURCES, Ref, Source

#: Order in which sources are asked whether they accept a spec: specific syntaxes
#: (shorthands, DOIs, then URLs: https://doi.org/... is a URL too) before the catch-all
#: local path; unknown plugins before "local".
_PRIORITY = {"gh": 0, "gl": 0, "gist": 0, "zenodo": 1, "figshare": 1, "dataverse": 1, "git": 5,
             "local": 100}

EXPECTED_FORMS = (
    "expected a path, a git URL (https://, git://, ssh://, file://) or "
    "gh:owner/repo, gl:group/project, gist:user/id (or a zenodo:/figshare:/dataverse: DOI)"
)


def load_sources() -> list[type[Source]]:
    """Every installed Source class, the most specific syntax first."""
    found = SOURCES.load_all()
    return sorted(found.values(), key=lambda cls: (_PRIORITY.get(cls.name, 50), cls.name))


class SourceCatalog:
    """Finds the source for a spec and makes it with its configured options.

    ``public_service``: the sources serve a launch service anyone can use, so every
    git-based source (``git``, the ``gh``/``gl``/``gist`` shorthands, any source whose
    options are :class:`~bindery.sources.git.GitOptions`) refuses submodules on this
    machine or a private network unless its own table allows them. The composition
    root decides (``bindery serve`` without ``allow_local_repos``); the sources never
    read it from elsewhere.
    """

    def __init__(self, options: Mapping[str, PluginOptions] | None = None, *,
                 public_service: bool = False) -> None:
        self._options = dict(options or {})
        self.public_service = public_service

    def make(self, cls: type[Source]) -> Source:
        """An instance of ``cls`` with its configured options (defaults when none)."""
        configured = self._options.get(cls.name)
        if self.public_service:
            return self._make_public(cls, configured)
        return cls.from_options(configured) if configured is not None else cls()

    @staticmethod
    def _make_public(cls: type[Source], configured: PluginOptions | None) -> Source:
        from bindery.sources.git import GitOptions  # only here: reading settings stays light

        if issubclass(cls.options_model, GitOptions):
            if not isinstance(configured, GitOptions):
                configured = cls.options_model()
            return cls.from_options(configured.for_public_service())
        return cls.from_options(configured) if configured is not None else cls()

    def named(self, name: str) -> Source:
        """The source registered as ``name`` (the ``source`` of a :class:`Ref`)."""
        return self.make(SOURCES.load(name))

    def find(self, spec: str) -> Source:
        """The first source whose syntax ``spec`` is written in (no I/O)."""
        if not isinstance(spec, str) or not spec.strip():
            raise SpecError(f"No repository was given; {EXPECTED_FORMS}.")
        for cls in load_sources():
            if cls.accepts(spec):
                return self.make(cls)
        raise SpecError(f"cannot tell what kind of repository {spec[:200]!r} is; {EXPECTED_FORMS}.")

    def resolve(self, spec: str, ref: str | None = None) -> Ref:
        """Pin ``spec`` (and ``ref``, default: the default branch) to an exact :class:`Ref`."""
        return self.find(spec).resolve(spec, ref)
