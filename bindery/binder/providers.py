"""Repository providers: BinderHub's ``<provider>/<spec>`` grammar, both ways.

Links already in the wild (badges on thousands of READMEs) are written in
BinderHub's grammar, so it is followed exactly: ``gh/<owner>/<repo>/<ref>``,
``gl/<url-encoded namespace>/<ref>``, ``gist/<user>/<id>[/<ref>]``,
``git/<url-encoded URL>/<ref>`` and DOIs for ``zenodo``/``figshare``/``dataverse``.
A spec becomes a :class:`LaunchSpec`: what the sources need to resolve it, where
the repository lives for people, and the stable key used for quotas and bans.
Parsing is pure (no I/O) so every refusal can be explained before anything is
contacted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlencode, urlsplit

from bindery.errors import SpecError

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
DEFAULT_REF = "HEAD"


@dataclass(frozen=True)
class Provider:
    """One entry of the launch form's provider menu and of ``/api/repoproviders``."""

    id: str
    display_name: str
    repo_label: str
    placeholder: str
    #: Whether a branch/tag/commit can be chosen (DOI records are immutable).
    has_ref: bool = True


PROVIDERS: dict[str, Provider] = {
    p.id: p
    for p in (
        Provider("gh", "GitHub", "GitHub repository name or URL", "owner/repo"),
        Provider("gl", "GitLab.com", "GitLab.com repository or URL", "group/project"),
        Provider("gist", "Gist", "Gist ID (username/gistId) or URL", "username/gistId"),
        Provider("git", "Git repository", "Arbitrary git repository URL",
                 "https://example.org/path/repo.git"),
        Provider("zenodo", "Zenodo DOI", "Zenodo DOI (10.5281/zenodo.3242074)",
                 "10.5281/zenodo.3242074", has_ref=False),
        Provider("figshare", "Figshare DOI", "Figshare DOI (10.6084/m9.figshare.9782777.v1)",
                 "10.6084/m9.figshare.9782777.v1", has_ref=False),
        Provider("dataverse", "Dataverse DOI", "Dataverse DOI (10.7910/DVN/TJCLKP)",
                 "10.7910/DVN/TJCLKP", has_ref=False),
    )
}


@dataclass(frozen=True)
class LaunchSpec:
    """A parsed ``<provider>/<spec>``."""

    provider: str
    #: The spec exactly as it appears in links (still URL-encoded where the grammar says so).
    spec: str
    #: What :func:`bindery.sources.resolve` understands (``gh:owner/repo``, a git URL, a DOI).
    source_spec: str
    #: The ref as asked (``HEAD`` means the default branch).
    ref: str
    #: Where people find the repository.
    repo_url: str

    @property
    def key(self) -> str:
        """``<provider>/<repository>`` without the ref: the unit for quotas and bans."""
        return f"{self.provider}/{self.repo_part()}"

    @property
    def full(self) -> str:
        return f"{self.provider}/{self.spec}"

    @property
    def source_ref(self) -> str | None:
        """The ref for the sources; ``None`` asks for the default branch."""
        return None if self.ref in ("", DEFAULT_REF) else self.ref

    def repo_part(self) -> str:
        if not PROVIDERS[self.provider].has_ref:
            return self.spec
        return self.spec[: len(self.spec) - len(_encode_ref(self.ref))].rstrip("/")

    def persistent_spec(self, resolved: str) -> str:
        """The same launch pinned to the exact commit (``binder_persistent_request``)."""
        if not PROVIDERS[self.provider].has_ref:
            return self.spec
        return f"{self.repo_part()}/{resolved}"

    def ref_url(self, resolved: str) -> str:
        """Where people can browse exactly what was built (``binder_ref_url``)."""
        if self.provider in ("gh", "gist"):
            return f"{self.repo_url}/tree/{resolved}" if self.provider == "gh" else (
                f"{self.repo_url}/{resolved}")
        if self.provider == "gl":
            return f"{self.repo_url}/tree/{resolved}"
        return self.repo_url


def _encode_ref(ref: str) -> str:
    return quote(ref, safe="/")


def parse(provider: str, spec: str) -> LaunchSpec:
    """Parse a raw (still URL-encoded) spec of ``provider``; raise SpecError when malformed."""
    if provider not in PROVIDERS:
        known = ", ".join(PROVIDERS)
        raise SpecError(
            f"'{provider}' is not a repository provider this service knows. "
            f"Use one of: {known}."
        )
    spec = spec.strip().strip("/") if provider != "git" else spec.strip().lstrip("/")
    if not spec:
        raise SpecError(f"The link names no repository after '{provider}/'.")
    parser = {"gh": _parse_gh, "gl": _parse_gl, "gist": _parse_gist, "git": _parse_git}.get(
        provider, _parse_doi
    )
    return parser(provider, spec)


def _check_ref(ref: str) -> str:
    if not ref or ".." in ref or any(c in ref for c in " ~^:?*[\\") or ref.endswith((".lock", "/")):
        raise SpecError(f"'{ref}' is not a valid branch, tag or commit name.")
    return ref


def _parse_gh(provider: str, spec: str) -> LaunchSpec:
    parts = spec.split("/", 2)
    if len(parts) < 2:
        raise SpecError(
            "A GitHub launch link needs the owner and repository name, like "
            "gh/owner/repo/HEAD."
        )
    owner, repo = parts[0], parts[1]
    ref = unquote(parts[2]) if len(parts) == 3 else DEFAULT_REF
    repo = repo.removesuffix(".git")
    if not (_NAME.match(owner) and _NAME.match(repo)):
        raise SpecError(f"'{owner}/{repo}' is not a valid GitHub repository name (owner/repo).")
    _check_ref(ref)
    return LaunchSpec(provider, f"{owner}/{repo}/{_encode_ref(ref)}", f"gh:{owner}/{repo}", ref,
                      f"https://github.com/{owner}/{repo}")


def _parse_gl(provider: str, spec: str) -> LaunchSpec:
    quoted_namespace, _, ref = spec.partition("/")
    namespace = unquote(quoted_namespace).strip("/")
    ref = unquote(ref) or DEFAULT_REF
    segments = namespace.split("/")
    if len(segments) < 2 or not all(_NAME.match(s) for s in segments):
        raise SpecError(
            f"'{namespace}' is not a valid GitLab project path. GitLab links encode the "
            "project path, like gl/group%2Fproject/HEAD."
        )
    namespace = namespace.removesuffix(".git")
    _check_ref(ref)
    return LaunchSpec(provider, f"{quote(namespace, safe='')}/{_encode_ref(ref)}",
                      f"gl:{namespace}", ref, f"https://gitlab.com/{namespace}")


def _parse_gist(provider: str, spec: str) -> LaunchSpec:
    parts = spec.split("/", 2)
    if len(parts) < 2 or not all(_NAME.match(p) for p in parts[:2]):
        raise SpecError("A Gist launch link needs the user and the gist id, like gist/user/abc123.")
    user, gist_id = parts[0], parts[1]
    ref = unquote(parts[2]) if len(parts) == 3 else DEFAULT_REF
    _check_ref(ref)
    return LaunchSpec(provider, f"{user}/{gist_id}/{_encode_ref(ref)}", f"gist:{user}/{gist_id}",
                      ref, f"https://gist.github.com/{user}/{gist_id}")


def _parse_git(provider: str, spec: str) -> LaunchSpec:
    quoted_url, sep, ref = spec.partition("/")
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
    ref = unquote(ref) or DEFAULT_REF
    _check_ref(ref)
    return LaunchSpec(provider, f"{quote(url, safe='')}/{_encode_ref(ref)}", url, ref, url)


def _parse_doi(provider: str, spec: str) -> LaunchSpec:
    doi = unquote(spec)
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", doi, flags=re.IGNORECASE)
    if not _DOI.match(doi):
        raise SpecError(f"'{doi}' is not a DOI. A DOI looks like 10.5281/zenodo.3242074.")
    return LaunchSpec(provider, doi, f"doi:{doi}", DEFAULT_REF, f"https://doi.org/{doi}")


def launch_path(provider: str, repo: str, ref: str | None = None) -> str:
    """``v2/<provider>/<spec>`` for an *unencoded* repository name/URL and ref."""
    ref = (ref or "").strip() or DEFAULT_REF
    repo = repo.strip()
    if provider == "git":
        spec = f"{quote(repo, safe='')}/{_encode_ref(ref)}"
    elif provider == "gl":
        spec = f"{quote(repo.strip('/'), safe='')}/{_encode_ref(ref)}"
    elif provider in PROVIDERS and not PROVIDERS[provider].has_ref:
        spec = repo
    else:
        spec = f"{repo.strip('/')}/{_encode_ref(ref)}"
    return f"v2/{provider}/{parse(provider, spec).spec}"


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
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", text, flags=re.IGNORECASE)
    if _DOI.match(doi):
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
