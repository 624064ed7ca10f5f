"""Any git repository reachable by URL, pinned to one commit with ``git ls-remote``.

Resolving asks the server which commit a branch or tag points to *now*, so the
image built is named after exactly that commit; fetching then downloads only
that commit (``--depth 1``) when the server allows it.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field

from bindery.errors import RefNotFound, SourceError, SpecError
from bindery.plugins import PluginOptions
from bindery.sources.base import LaunchProvider, Ref, Source
from bindery.sources.gitcmd import DEFAULT_TIMEOUT, GitSizeExceeded, dir_size, git_reason, run_git
from bindery.sources.links import GitUrlLinks
from bindery.sources.submodules import SubmodulePolicy, update_submodules
from bindery.sources.validation import (
    HEX_SHA,
    check_git_url,
    check_ref,
    looks_like_git_url,
    url_host,
)

log = logging.getLogger(__name__)

#: Default size limit for a checkout (the builder passes ``builder.max_repo_bytes``).
DEFAULT_MAX_BYTES = 1_000_000_000

_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_NOT_FOUND_HINTS = (
    "not found", "does not appear to be a git repository", "repository not exported",
    "no such file or directory", "authentication failed", "could not read username",
    "terminal prompts disabled", "access denied", "no such repository",
)


def display_name_from_url(url: str) -> str:
    """``owner/repo`` from a git URL (the last two path parts, ``.git`` dropped)."""
    path = re.split(r"://[^/]*|^[^@/:]+@[^:/]+:", url, maxsplit=1)[-1]
    parts = [p for p in path.replace(":", "/").split("/") if p]
    if parts:
        parts[-1] = parts[-1].removesuffix(".git")
    return "/".join(parts[-2:]) or "repo"


def parse_ls_remote(output: str) -> tuple[dict[str, str], str | None]:
    """``{refname: sha}`` (peeled tags win) and the branch HEAD points to, from ``ls-remote --symref``."""
    refs: dict[str, str] = {}
    head_branch = None
    for line in output.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            head_branch = line[5:].split("\t", 1)[0].removeprefix("refs/heads/")
            continue
        sha, _, name = line.partition("\t")
        if not name:
            continue
        if name.endswith("^{}"):
            refs[name[:-3]] = sha  # the commit an annotated tag points to
        else:
            refs.setdefault(name, sha)
    return refs, head_branch


def _shown_branches(refs: dict[str, str], head_branch: str | None, limit: int = 8) -> str:
    """Branch names for an error message: the default branch first, at most ``limit``."""
    branches = sorted(n.removeprefix("refs/heads/") for n in refs if n.startswith("refs/heads/"))
    if head_branch in branches:
        branches.remove(head_branch)
        branches.insert(0, head_branch)
    return ", ".join(branches[:limit]) + (", ..." if len(branches) > limit else "")


class GitOptions(PluginOptions):
    """``[sources.git]``: how long one git command may take, and which submodules are fetched."""

    #: Seconds one git command (ls-remote, fetch, checkout) may take.
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0)
    #: Fetch a repository's git submodules (recursively, each URL checked like the
    #: repository's own); off: their directories stay empty.
    submodules: bool = True
    #: Fetch submodules whose host is on this machine or a private network. Unset: yes
    #: for ``bindery build`` and with ``allow_local_repos``, no for a public ``bindery serve``.
    allow_private_submodules: bool | None = None

    def for_public_service(self) -> Self:
        """These options for a service anyone can use: private submodule hosts refused unless set."""
        if self.allow_private_submodules is not None:
            return self
        return self.model_copy(update={"allow_private_submodules": False})

    def submodule_policy(self) -> SubmodulePolicy:
        return SubmodulePolicy(enabled=self.submodules,
                               allow_private_hosts=self.allow_private_submodules is not False)


class GitSource(Source):
    """A git URL: ``https://``, ``http://``, ``git://``, ``ssh://``, ``file://`` or ``user@host:path``."""

    name: ClassVar[str] = "git"
    launch_provider: ClassVar[LaunchProvider | None] = GitUrlLinks(
        "git", "Git repository", "Arbitrary git repository URL",
        "https://example.org/path/repo.git", order=40,
        validate_regex=r"[^/]+/.+", url_encode=True)
    #: Seconds one git command may take.
    timeout: float = DEFAULT_TIMEOUT
    #: Which submodules are fetched (default: all, from any host: the trust of ``bindery build``).
    submodules: SubmodulePolicy = SubmodulePolicy()

    options_model: ClassVar[type[PluginOptions]] = GitOptions

    def __init__(self, timeout: float | None = None, submodules: SubmodulePolicy | None = None) -> None:
        if timeout is not None:
            self.timeout = timeout
        if submodules is not None:
            self.submodules = submodules

    @classmethod
    def from_options(cls, options: PluginOptions) -> Source:
        if not isinstance(options, GitOptions):
            return cls()
        return cls(timeout=options.timeout, submodules=options.submodule_policy())

    @classmethod
    def accepts(cls, spec: str) -> bool:
        return looks_like_git_url(spec)

    # -- resolve ---------------------------------------------------------------

    def resolve(self, spec: str, ref: str | None = None) -> Ref:
        url = check_git_url(spec)
        requested = check_ref(ref) if ref is not None else "HEAD"
        sha = self.pin(url, requested)
        return Ref(source=self.name, url=url, resolved=sha, requested=requested,
                   display_name=display_name_from_url(url))

    def pin(self, url: str, requested: str) -> str:
        """The full commit sha ``requested`` names in the repository at ``url`` (already validated)."""
        if _FULL_SHA.match(requested.lower()):
            return requested.lower()
        refs, head_branch = self.ls_remote(url)
        if requested == "HEAD":
            if "HEAD" not in refs:
                shown = _shown_branches(refs, head_branch)
                if shown:
                    # A bare repository whose HEAD names a branch nobody pushed.
                    raise RefNotFound(
                        f"The default branch of {url} does not exist; choose a branch, tag or "
                        f"commit with --ref (branches: {shown})."
                    )
                raise RefNotFound(f"The repository {url} is empty (it has no commits yet).")
            return refs["HEAD"]
        for name in (f"refs/heads/{requested}", f"refs/tags/{requested}", requested):
            if name in refs and (name.startswith("refs/") or name == "HEAD"):
                return refs[name]
        if HEX_SHA.match(requested):
            prefix = requested.lower()
            matches = {sha for sha in refs.values() if sha.startswith(prefix)}
            if len(matches) == 1:
                return matches.pop()
            found = self._expand_abbreviated(url, prefix)
            if found:
                return found
        shown = _shown_branches(refs, head_branch)
        raise RefNotFound(
            f"branch, tag or commit {requested!r} does not exist in {url}; "
            f"available branches: {shown or '(none)'}"
        )

    def ls_remote(self, url: str) -> tuple[dict[str, str], str | None]:
        """Every ref the server advertises, or SourceError for an unreachable/missing repository."""
        result = run_git(["ls-remote", "--symref", "--", url], timeout=self.timeout)
        if result.returncode != 0:
            raise self._remote_error(url, result.stderr)
        return parse_ls_remote(result.stdout)

    def _expand_abbreviated(self, url: str, prefix: str) -> str | None:
        """Full sha for an abbreviated one: needs the history, so fetch it into a scratch repo."""
        with tempfile.TemporaryDirectory(prefix="bindery-abbrev-") as scratch:
            work = Path(scratch)
            self._git_ok(["init", "-q", "--bare", str(work)], url)
            fetched = run_git(["fetch", "-q", "--no-tags", "--", url, "+refs/heads/*:refs/heads/*",
                               "+refs/tags/*:refs/tags/*"], cwd=work, timeout=self.timeout)
            if fetched.returncode != 0:
                raise self._remote_error(url, fetched.stderr)
            found = run_git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{prefix}^{{commit}}"],
                            cwd=work, timeout=self.timeout)
            return found.stdout.strip() if found.returncode == 0 else None

    # -- fetch -------------------------------------------------------------------

    def fetch(self, ref: Ref, dest: Path, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Path:
        """Make ``dest`` a checkout of exactly ``ref.resolved``; remove it again on any failure."""
        url = check_git_url(ref.url)
        sha = ref.resolved
        if not _FULL_SHA.match(sha):
            raise SpecError(f"{sha!r} is not a full commit sha; resolve the spec first.")
        dest = Path(dest)
        existed = dest.exists()
        if existed and any(dest.iterdir()):
            raise SourceError(f"cannot fetch into {dest}: the directory is not empty")
        try:
            self._fetch_into(url, sha, dest, max_bytes)
        except GitSizeExceeded:
            self._discard(dest, existed)
            raise SourceError(
                f"repository is larger than the limit of {(max_bytes or 0) / 1e6:g} MB ({url})"
            ) from None
        except BaseException:
            self._discard(dest, existed)
            raise
        return dest

    def _fetch_into(self, url: str, sha: str, dest: Path, max_bytes: int | None) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        self._git_ok(["init", "-q", "--", str(dest)], url)
        self._git_ok(["remote", "add", "origin", url], url, cwd=dest)
        shallow = run_git(["fetch", "-q", "--depth", "1", "--no-tags", "--", url, sha],
                          cwd=dest, timeout=self.timeout,
                          watch=dest, max_bytes=max_bytes)
        if shallow.returncode != 0:
            log.info("fetching %s by sha refused (%s); fetching all branches and tags",
                     url, git_reason(shallow.stderr))
            full = run_git(["fetch", "-q", "--", url, "+refs/heads/*:refs/remotes/origin/*",
                            "+refs/tags/*:refs/tags/*"], cwd=dest, timeout=self.timeout,
                          watch=dest, max_bytes=max_bytes)
            if full.returncode != 0:
                raise self._remote_error(url, full.stderr)
        checkout = run_git(["checkout", "-q", "--detach", sha, "--"], cwd=dest, timeout=self.timeout,
                          watch=dest, max_bytes=max_bytes)
        if checkout.returncode != 0:
            raise RefNotFound(f"commit {sha} does not exist in {url} ({git_reason(checkout.stderr)})")
        update_submodules(
            dest, url, self.submodules,
            lambda args, cwd: run_git(args, cwd=cwd, timeout=self.timeout,
                                      watch=dest, max_bytes=max_bytes))
        if max_bytes is not None and dir_size(dest) > max_bytes:
            raise GitSizeExceeded()

    @staticmethod
    def _discard(dest: Path, existed: bool) -> None:
        shutil.rmtree(dest, ignore_errors=True)
        if existed:
            dest.mkdir(parents=True, exist_ok=True)

    def _git_ok(self, args: list[str], url: str, cwd: Path | None = None) -> None:
        result = run_git(args, cwd=cwd, timeout=self.timeout)
        if result.returncode != 0:
            raise SourceError(f"git {args[0]} failed while fetching {url}: {git_reason(result.stderr)}")

    @staticmethod
    def _remote_error(url: str, stderr: str) -> SourceError:
        reason = git_reason(stderr)
        if any(hint in stderr.lower() for hint in _NOT_FOUND_HINTS):
            return SourceError(f"repository not found: {url} ({reason})")
        return SourceError(f"could not reach {url_host(url)}: {reason}")
