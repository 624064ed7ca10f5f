"""BinderHub's link grammars for the built-in sources (``/v2/<provider>/<spec>``).

Links already in the wild (badges on thousands of READMEs) are written in
BinderHub's grammar, so it is followed exactly: ``gh/<owner>/<repo>/<ref>``,
``gl/<url-encoded namespace>/<ref>``, ``gist/<user>/<id>[/<ref>]``,
``git/<url-encoded URL>/<ref>`` and DOIs for ``zenodo``/``figshare``/``dataverse``.
Each source declares one of these as its ``launch_provider``. Parsing is pure
(no I/O) so every refusal can be explained before anything is contacted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from bindery.errors import SpecError
from bindery.sources.base import DEFAULT_LINK_REF, LaunchProvider, LinkSpec

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
DOI = re.compile(r"^10\.\d{4,9}/\S+$")
DOI_PREFIX = re.compile(r"^(https?://(dx\.)?doi\.org/|doi:)", re.IGNORECASE)


def encode_ref(ref: str) -> str:
    """A ref as links write it: slashes kept (``feature/x``), everything else encoded."""
    return quote(ref, safe="/")


def check_link_ref(ref: str) -> str:
    """``ref`` when git could name a branch, tag or commit so; SpecError otherwise."""
    if not ref or ".." in ref or any(c in ref for c in " ~^:?*[\\") or ref.endswith((".lock", "/")):
        raise SpecError(f"'{ref}' is not a valid branch, tag or commit name.")
    return ref


@dataclass(frozen=True)
class GitHubLinks(LaunchProvider):
    """``gh/<owner>/<repo>[/<ref>]``."""

    def parse(self, spec: str) -> LinkSpec:
        parts = spec.strip("/").split("/", 2)
        if len(parts) < 2:
            raise SpecError(
                "A GitHub launch link needs the owner and repository name, like "
                "gh/owner/repo/HEAD."
            )
        owner, repo = parts[0], parts[1]
        ref = unquote(parts[2]) if len(parts) == 3 else DEFAULT_LINK_REF
        repo = repo.removesuffix(".git")
        if not (_NAME.match(owner) and _NAME.match(repo)):
            raise SpecError(f"'{owner}/{repo}' is not a valid GitHub repository name (owner/repo).")
        check_link_ref(ref)
        url = f"https://github.com/{owner}/{repo}"
        return LinkSpec(f"{owner}/{repo}/{encode_ref(ref)}", f"{owner}/{repo}",
                        f"gh:{owner}/{repo}", ref, url, commit_url_prefix=f"{url}/tree/")

    def spec_for(self, repository: str, ref: str) -> str:
        return f"{repository.strip('/')}/{encode_ref(ref)}"


@dataclass(frozen=True)
class GitLabLinks(LaunchProvider):
    """``gl/<url-encoded group/project>/<ref>``."""

    def parse(self, spec: str) -> LinkSpec:
        quoted_namespace, _, ref = spec.strip("/").partition("/")
        namespace = unquote(quoted_namespace).strip("/")
        ref = unquote(ref) or DEFAULT_LINK_REF
        segments = namespace.split("/")
        if len(segments) < 2 or not all(_NAME.match(s) for s in segments):
            raise SpecError(
                f"'{namespace}' is not a valid GitLab project path. GitLab links encode the "
                "project path, like gl/group%2Fproject/HEAD."
            )
        namespace = namespace.removesuffix(".git")
        check_link_ref(ref)
        repository = quote(namespace, safe="")
        url = f"https://gitlab.com/{namespace}"
        return LinkSpec(f"{repository}/{encode_ref(ref)}", repository, f"gl:{namespace}", ref, url,
                        commit_url_prefix=f"{url}/tree/")

    def spec_for(self, repository: str, ref: str) -> str:
        return f"{quote(repository.strip('/'), safe='')}/{encode_ref(ref)}"


@dataclass(frozen=True)
class GistLinks(LaunchProvider):
    """``gist/<user>/<id>[/<ref>]``."""

    def parse(self, spec: str) -> LinkSpec:
        parts = spec.strip("/").split("/", 2)
        if len(parts) < 2 or not all(_NAME.match(p) for p in parts[:2]):
            raise SpecError(
                "A Gist launch link needs the user and the gist id, like gist/user/abc123."
            )
        user, gist_id = parts[0], parts[1]
        ref = unquote(parts[2]) if len(parts) == 3 else DEFAULT_LINK_REF
        check_link_ref(ref)
        url = f"https://gist.github.com/{user}/{gist_id}"
        return LinkSpec(f"{user}/{gist_id}/{encode_ref(ref)}", f"{user}/{gist_id}",
                        f"gist:{user}/{gist_id}", ref, url, commit_url_prefix=f"{url}/")

    def spec_for(self, repository: str, ref: str) -> str:
        return f"{repository.strip('/')}/{encode_ref(ref)}"


@dataclass(frozen=True)
class GitUrlLinks(LaunchProvider):
    """``git/<url-encoded URL>/<ref>``: any git repository (its host is checked by the service)."""

    def parse(self, spec: str) -> LinkSpec:
        quoted_url, sep, ref = spec.lstrip("/").partition("/")
        url = unquote(quoted_url)
        if not sep and "://" not in url:
            raise SpecError(
                "A git launch link needs the URL-encoded repository URL followed by / and a ref, "
                "like git/https%3A%2F%2Fexample.org%2Frepo.git/HEAD."
            )
        if quoted_url.endswith(":") or "://" not in url and not url.startswith(("git@", "/")):
            raise SpecError(
                "The repository URL in a git launch link must be URL-encoded (so its slashes "
                "become %2F), followed by / and a ref."
            )
        ref = unquote(ref) or DEFAULT_LINK_REF
        check_link_ref(ref)
        repository = quote(url, safe="")
        return LinkSpec(f"{repository}/{encode_ref(ref)}", repository, url, ref, url,
                        names_host=True)

    def spec_for(self, repository: str, ref: str) -> str:
        return f"{quote(repository, safe='')}/{encode_ref(ref)}"


@dataclass(frozen=True)
class DoiLinks(LaunchProvider):
    """``<provider>/<DOI>``: a published record, which has no refs.

    The source spec is ``<provider>:<DOI>`` (``zenodo:10.5281/...``), a form the record
    source of the same name accepts, so the DOI goes to that source and never to
    another (a git source must never be handed a DOI).
    """

    has_ref: bool = False
    validate_regex: str = r"10\.\d+\/(.)+"

    def parse(self, spec: str) -> LinkSpec:
        doi = DOI_PREFIX.sub("", unquote(spec.strip("/")))
        if not DOI.match(doi):
            raise SpecError(f"'{doi}' is not a DOI. A DOI looks like 10.5281/zenodo.3242074.")
        return LinkSpec(doi, doi, f"{self.id}:{doi}", DEFAULT_LINK_REF, f"https://doi.org/{doi}")

    def spec_for(self, repository: str, ref: str) -> str:
        return repository
