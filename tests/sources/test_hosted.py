"""gh:/gl:/gist: shorthands, pointed at a local git daemon and http-backend (GitHub is not reachable here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bindery.errors import SourceError, SpecError
from bindery.sources.hosted import GistSource, GitHubSource, GitLabSource

from .conftest import Origin
from .test_git import head_of


def test_github_shorthand_over_git_daemon(origin: Origin, git_daemon: str, tmp_path: Path) -> None:
    source = GitHubSource(base_url=git_daemon)
    ref = source.resolve("gh:owner/repo")
    assert (ref.source, ref.url, ref.resolved, ref.display_name) == (
        "gh", f"{git_daemon}/owner/repo.git", origin.main, "owner/repo")
    assert source.resolve("gh:owner/repo@dev").resolved == origin.dev
    assert source.resolve("gh:owner/repo.git", "v1").resolved == origin.v1
    # The builder makes a fresh instance by name to fetch: the Ref alone must be enough.
    assert head_of(GitHubSource().fetch(ref, tmp_path / "c")) == origin.main


def test_github_shorthand_over_smart_http(origin: Origin, http_git: str) -> None:
    assert GitHubSource(base_url=http_git).resolve("gh:owner/repo@v2").resolved == origin.v2


def test_gitlab_subgroups_and_gist(origin: Origin, git_daemon: str) -> None:
    ref = GitLabSource(base_url=git_daemon).resolve("gl:group/sub/project", "dev")
    assert (ref.resolved, ref.display_name, ref.source) == (origin.dev, "sub/project", "gl")
    gist = GistSource(base_url=git_daemon).resolve("gist:someone/0123abcd")
    assert (gist.resolved, gist.url) == (origin.main, f"{git_daemon}/someone/0123abcd.git")


def test_class_attribute_override(origin: Origin, git_daemon: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GitHubSource, "base_url", git_daemon)
    from bindery.sources import resolve

    assert resolve("gh:owner/repo", "v2").resolved == origin.v2


def test_missing_hosted_repository(git_daemon: str) -> None:
    with pytest.raises(SourceError, match="repository not found"):
        GitHubSource(base_url=git_daemon).resolve("gh:owner/does-not-exist")


def test_conflicting_refs_are_refused_before_contacting_anything(closed_port: int) -> None:
    source = GitHubSource(base_url=f"git://127.0.0.1:{closed_port}")
    with pytest.raises(SpecError, match="Two different refs"):
        source.resolve("gh:owner/repo@main", "dev")


def test_same_ref_twice_is_fine(origin: Origin, git_daemon: str) -> None:
    assert GitHubSource(base_url=git_daemon).resolve("gh:owner/repo@dev", "dev").resolved == origin.dev


@pytest.mark.parametrize("spec", [
    "gh:../../etc", "gh:owner/..", "gh:owner/../x", "gh:./repo", "gh:owner", "gh:owner/repo/extra",
    "gh:-owner/repo", "gh:own_er/repo", "gh:owner/re po", "gh:owner/repo%2f..", "gh:",
    "gl:group/../../etc", "gl:group/./p", "gl:onlyone", "gl:group/-x/../p",
    "gist:../x", "gist:user/../../x", "gist:user/not-hex!", "gh:owner/repo@--upload-pack=x",
    "gh:owner/repo@a..b", "gh:owner/repo@x@{1}",
])
def test_malformed_or_traversing_shorthands_are_spec_errors(spec: str) -> None:
    source = {"gh": GitHubSource, "gl": GitLabSource, "gist": GistSource}[spec.split(":")[0]]
    with pytest.raises(SpecError) as err:
        source(base_url="git://127.0.0.1:9").resolve(spec)
    assert "expected" in str(err.value) or "ref" in str(err.value)
