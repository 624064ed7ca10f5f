"""Shorthands for hosted git services: ``gh:owner/repo``, ``gl:group/sub/project``, ``gist:user/id``.

Each shorthand is only a name for a git URL, so resolving and fetching are the
git source's; this module checks the names (no ``..``, only the characters the
service allows) and builds the URL. ``base_url`` is a class attribute (or a
constructor argument) so a deployment with its own GitHub Enterprise / GitLab, or
a test with a local ``git daemon``, can point the shorthand elsewhere.
"""

from __future__ import annotations

import re
from typing import ClassVar

from bindery.errors import SpecError
from bindery.plugins import PluginOptions
from bindery.sources.base import LaunchProvider, Ref, Source
from bindery.sources.git import GitOptions, GitSource
from bindery.sources.links import GistLinks, GitHubLinks, GitLabLinks
from bindery.sources.submodules import SubmodulePolicy
from bindery.sources.validation import check_ref

_GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_GITLAB_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$")
_GIST_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")


def _bad(spec: str, why: str, example: str) -> SpecError:
    return SpecError(f"{spec[:100]!r} is not a valid repository name: {why} (expected {example}).")


class HostedOptions(GitOptions):
    """``[sources.gh]``, ``[sources.gl]``, ``[sources.gist]``: where the forge is."""

    #: The forge's base URL, e.g. a self-hosted GitLab ("" = the public service).
    base_url: str = ""


class HostedSource(GitSource):
    """A ``<prefix>:<path>[@ref]`` shorthand for ``<base_url>/<path>.git``."""

    prefix: ClassVar[str]
    base_url: str
    example: ClassVar[str]

    options_model: ClassVar[type[PluginOptions]] = HostedOptions

    def __init__(self, base_url: str | None = None, timeout: float | None = None,
                 submodules: SubmodulePolicy | None = None) -> None:
        super().__init__(timeout=timeout, submodules=submodules)
        if base_url is not None:
            self.base_url = base_url

    @classmethod
    def from_options(cls, options: PluginOptions) -> Source:
        if not isinstance(options, HostedOptions):
            return cls()
        return cls(base_url=options.base_url.rstrip("/") or None, timeout=options.timeout,
                   submodules=options.submodule_policy())

    @classmethod
    def accepts(cls, spec: str) -> bool:
        return spec.startswith(f"{cls.prefix}:")

    @classmethod
    def check_path(cls, path: str, spec: str) -> list[str]:
        """The validated path segments (e.g. ``["owner", "repo"]``); SpecError if malformed."""
        raise NotImplementedError

    def split(self, spec: str, ref: str | None) -> tuple[list[str], str | None]:
        """Path segments and the ref (from ``@ref`` or ``ref``), both validated, nothing contacted."""
        if not self.accepts(spec):
            raise _bad(spec, f"it does not start with {self.prefix}:", self.example)
        body = spec[len(self.prefix) + 1:]
        path, at, inline_ref = body.partition("@")
        if at:
            check_ref(inline_ref)
            if ref is not None and ref != inline_ref:
                raise SpecError(
                    f"Two different refs were given: {inline_ref!r} in {spec!r} and {ref!r} as --ref; give only one."
                )
            ref = inline_ref
        elif ref is not None:
            check_ref(ref)
        path = path.removesuffix("/").removesuffix(".git")
        return self.check_path(path, spec), ref

    def url_for(self, segments: list[str]) -> str:
        return f"{self.base_url.rstrip('/')}/{'/'.join(segments)}.git"

    def resolve(self, spec: str, ref: str | None = None) -> Ref:
        segments, ref = self.split(spec, ref)
        url = self.url_for(segments)
        requested = ref or "HEAD"
        sha = self.pin(url, requested)
        return Ref(source=self.name, url=url, resolved=sha, requested=requested,
                   display_name="/".join(segments[-2:]))


class GitHubSource(HostedSource):
    """``gh:owner/repo[@ref]`` → ``https://github.com/owner/repo.git``."""

    name: ClassVar[str] = "gh"
    launch_provider: ClassVar[LaunchProvider | None] = GitHubLinks(
        "gh", "GitHub", "GitHub repository name or URL", "owner/repo", order=10,
        validate_regex=r"[^/]+/[^/]+/.+", detect_regex="^(https?://github.com/)?(?<repo>.*[^/])/?")
    prefix: ClassVar[str] = "gh"
    base_url: str = "https://github.com"
    example: ClassVar[str] = "gh:owner/repo"

    @classmethod
    def check_path(cls, path: str, spec: str) -> list[str]:
        parts = path.split("/")
        if len(parts) != 2:
            raise _bad(spec, "it needs exactly one '/' between owner and repository", cls.example)
        owner, repo = parts
        if not _GITHUB_OWNER.match(owner) or owner.endswith("-"):
            raise _bad(spec, f"the owner {owner!r} may only contain letters, digits and single '-'", cls.example)
        if not _REPO_NAME.match(repo) or repo in (".", ".."):
            raise _bad(spec, f"the repository {repo!r} may only contain letters, digits, '.', '-' and '_'",
                       cls.example)
        return parts


class GitLabSource(HostedSource):
    """``gl:group/sub/project[@ref]`` → ``https://gitlab.com/group/sub/project.git``."""

    name: ClassVar[str] = "gl"
    launch_provider: ClassVar[LaunchProvider | None] = GitLabLinks(
        "gl", "GitLab.com", "GitLab.com repository or URL", "group/project", order=20,
        validate_regex=r"[^/]+/.+", detect_regex="^(https?://gitlab.com/)?(?<repo>.*[^/])/?",
        url_encode=True)
    prefix: ClassVar[str] = "gl"
    base_url: str = "https://gitlab.com"
    example: ClassVar[str] = "gl:group/project or gl:group/subgroup/project"

    @classmethod
    def check_path(cls, path: str, spec: str) -> list[str]:
        parts = path.split("/")
        if len(parts) < 2 or len(parts) > 20:
            raise _bad(spec, "it needs a group and a project separated by '/'", cls.example)
        for part in parts:
            if part in (".", "..") or not _GITLAB_SEGMENT.match(part) or part.endswith((".", ".git", ".atom")):
                raise _bad(spec, f"the part {part!r} may only contain letters, digits, '_', '-' and '.'",
                           cls.example)
        return parts


class GistSource(HostedSource):
    """``gist:user/id[@ref]`` → ``https://gist.github.com/user/id.git``."""

    name: ClassVar[str] = "gist"
    launch_provider: ClassVar[LaunchProvider | None] = GistLinks(
        "gist", "Gist", "Gist ID (username/gistId) or URL", "username/gistId", order=30,
        validate_regex=r"[^/]+/[^/]+(/[^/]+)?",
        detect_regex="^(https?://gist.github.com/)?(?<repo>.*[^/])/?")
    prefix: ClassVar[str] = "gist"
    base_url: str = "https://gist.github.com"
    example: ClassVar[str] = "gist:user/0123abcd"

    @classmethod
    def check_path(cls, path: str, spec: str) -> list[str]:
        parts = path.split("/")
        if len(parts) != 2:
            raise _bad(spec, "it needs exactly one '/' between user and gist id", cls.example)
        user, gist_id = parts
        if not _GITHUB_OWNER.match(user) or user.endswith("-"):
            raise _bad(spec, f"the user {user!r} may only contain letters, digits and single '-'", cls.example)
        if not _GIST_ID.match(gist_id):
            raise _bad(spec, f"the gist id {gist_id!r} may only contain letters and digits", cls.example)
        return parts
