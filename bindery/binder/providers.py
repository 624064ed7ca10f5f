"""Repository providers: the ``<provider>/<spec>`` of launch links, both ways.

The providers are the installed sources that declare a
:class:`~bindery.sources.base.LaunchProvider` (the built-ins follow BinderHub's
grammar exactly, see :mod:`bindery.sources.links`), so a third-party source is
launchable from a link by being installed. A spec becomes a :class:`LaunchSpec`:
what the sources need to resolve it, where the repository lives for people, and
the stable key used for quotas and bans. Parsing is pure (no I/O) so every
refusal can be explained before anything is contacted.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from bindery.errors import SpecError
from bindery.sources.base import DEFAULT_LINK_REF, SOURCES, LaunchProvider, LinkSpec
from bindery.sources.links import DOI, DOI_PREFIX

log = logging.getLogger(__name__)


@functools.cache
def launch_providers() -> dict[str, LaunchProvider]:
    """Every provider of the installed sources, in menu order (read once per process)."""
    found: dict[str, LaunchProvider] = {}
    for name, source in sorted(SOURCES.load_all().items()):
        provider = source.launch_provider
        if provider is None:
            continue
        if provider.id in found and found[provider.id] != provider:
            log.warning("the sources %r and another both claim the link provider %r; "
                        "keeping the first", name, provider.id)
            continue
        found[provider.id] = provider
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


def launch_provider(provider: str, known: Mapping[str, LaunchProvider] | None = None
                    ) -> LaunchProvider:
    """The provider named in a link; SpecError naming the known ones otherwise.

    ``known`` is the deployment's table (the installed sources' providers plus any the
    binder adds itself, such as ready-made images); default: the sources' only.
    """
    known = launch_providers() if known is None else known
    if provider not in known:
        raise SpecError(
            f"'{provider}' is not a repository provider this service knows. "
            f"Use one of: {', '.join(known)}."
        )
    return known[provider]


@dataclass(frozen=True)
class LaunchSpec:
    """A parsed ``<provider>/<spec>``."""

    launcher: LaunchProvider
    link: LinkSpec

    @property
    def provider(self) -> str:
        return self.launcher.id

    @property
    def spec(self) -> str:
        """The spec exactly as it appears in links (still URL-encoded where the grammar says so)."""
        return self.link.spec

    @property
    def source_spec(self) -> str:
        """What :func:`bindery.sources.resolve` understands (``gh:owner/repo``, a git URL...)."""
        return self.link.source_spec

    @property
    def ref(self) -> str:
        """The ref as asked (``HEAD`` means the default branch)."""
        return self.link.ref

    @property
    def repo_url(self) -> str:
        """Where people find the repository."""
        return self.link.repo_url

    @property
    def key(self) -> str:
        """``<provider>/<repository>`` without the ref: the unit for quotas and bans."""
        return f"{self.provider}/{self.link.repository}"

    @property
    def full(self) -> str:
        return f"{self.provider}/{self.spec}"

    @property
    def source_ref(self) -> str | None:
        """The ref for the sources; ``None`` asks for the default branch."""
        return None if self.ref in ("", DEFAULT_LINK_REF) else self.ref

    def persistent_spec(self, resolved: str) -> str:
        """The same launch pinned to the exact commit (``binder_persistent_request``)."""
        if not self.launcher.has_ref:
            return self.spec
        return f"{self.link.repository}/{resolved}"

    def ref_url(self, resolved: str) -> str:
        """Where people can browse exactly what was built (``binder_ref_url``)."""
        prefix = self.link.commit_url_prefix
        return prefix + resolved if prefix else self.repo_url


def parse(provider: str, spec: str, known: Mapping[str, LaunchProvider] | None = None
          ) -> LaunchSpec:
    """Parse a raw (still URL-encoded) spec of ``provider``; raise SpecError when malformed."""
    launcher = launch_provider(provider, known)
    spec = spec.strip()
    if not spec.strip("/"):
        raise SpecError(f"The link names no repository after '{provider}/'.")
    return LaunchSpec(launcher, launcher.parse(spec))


def launch_path(provider: str, repo: str, ref: str | None = None,
                known: Mapping[str, LaunchProvider] | None = None) -> str:
    """``v2/<provider>/<spec>`` for an *unencoded* repository name/URL and ref."""
    ref = (ref or "").strip() or DEFAULT_LINK_REF
    spec = launch_provider(provider, known).spec_for(repo.strip(), ref)
    return f"v2/{provider}/{parse(provider, spec, known).spec}"


def open_query(urlpath: str = "", labpath: str = "", filepath: str = "") -> str:
    """The query string (with ``?``) that opens a file or URL once the server runs."""
    params = {k: v for k, v in (("urlpath", urlpath), ("labpath", labpath),
                                ("filepath", filepath)) if v}
    return f"?{urlencode(params)}" if params else ""


def target_urlpath(urlpath: str = "", labpath: str = "", filepath: str = "") -> str:
    """Where inside the server the user lands: BinderHub's rules, JupyterLab by default."""
    if labpath:
        return "lab/tree/" + quote(labpath.lstrip("/"))
    if filepath:
        return "lab/tree/" + quote(filepath.lstrip("/"))
    if urlpath:
        return urlpath.lstrip("/")
    return "lab"


def understand(text: str, provider: str = "gh") -> tuple[str, str, str | None]:
    """Read what a person pasted into the form: ``(provider, repository, ref or None)``.

    Full URLs of GitHub, GitLab, Gist, Zenodo and DOIs are recognised whatever
    provider is selected; anything else that looks like a URL is a git URL; a
    bare ``owner/repo`` keeps the selected provider.
    """
    text = text.strip()
    if not text:
        raise SpecError("Please enter a repository.")
    doi = DOI_PREFIX.sub("", text)
    if DOI.match(doi):
        lowered = doi.lower()
        kind = "zenodo" if "zenodo" in lowered else "figshare" if "figshare" in lowered else (
            provider if provider in ("zenodo", "figshare", "dataverse") else "dataverse")
        return kind, doi, None
    if "://" not in text and not text.startswith("git@"):
        if provider == "git":
            raise SpecError("A git repository must be given as a full URL (https://…).")
        return provider, text.strip("/").removesuffix(".git"), None
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    if host in ("github.com", "www.github.com") and len(segments) >= 2:
        ref = "/".join(segments[3:]) if len(segments) > 3 and segments[2] in ("tree", "commit") \
            else None
        return "gh", f"{segments[0]}/{segments[1].removesuffix('.git')}", ref
    if host == "gist.github.com" and len(segments) >= 2:
        return "gist", f"{segments[0]}/{segments[1]}", None
    if host == "gitlab.com" and len(segments) >= 2:
        ref = None
        if "-" in segments:
            dash = segments.index("-")
            ref = "/".join(segments[dash + 2:]) or None
            segments = segments[:dash]
        return "gl", "/".join(segments).removesuffix(".git"), ref
    if host == "zenodo.org" and len(segments) >= 2 and segments[0] in ("record", "records"):
        return "zenodo", f"10.5281/zenodo.{segments[1]}", None
    return "git", text, None
