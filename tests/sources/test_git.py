"""The git source against real repositories over file://, git:// and http://."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bindery.errors import RefNotFound, SourceError, SpecError
from bindery.sources import resolve
from bindery.sources.git import GitSource

from .conftest import Origin


def head_of(checkout: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_default_branch_resolves_to_its_tip_and_fetches_exactly_it(origin: Origin, tmp_path: Path) -> None:
    ref = resolve(origin.file_url)
    assert (ref.source, ref.resolved, ref.requested) == ("git", origin.main, "HEAD")
    assert ref.display_name == "owner/repo"
    dest = GitSource().fetch(ref, tmp_path / "checkout")
    assert head_of(dest) == origin.main
    assert sorted(p.name for p in dest.iterdir() if p.name != ".git") == ["README.md", "main.txt", "requirements.txt"]


def test_branch_is_pinned_and_fetched(origin: Origin, tmp_path: Path) -> None:
    ref = resolve(origin.file_url, "dev")
    assert ref.resolved == origin.dev
    dest = GitSource().fetch(ref, tmp_path / "dev")
    assert (dest / "dev.txt").read_text() == "on dev\n"
    assert not (dest / "main.txt").exists()


def test_lightweight_and_annotated_tags_resolve_to_commits(origin: Origin) -> None:
    assert resolve(origin.file_url, "v1").resolved == origin.v1
    # The annotated tag's own object id must not leak: the peeled commit is what gets built.
    assert resolve(origin.file_url, "v2").resolved == origin.v2


def test_full_sha_of_an_old_commit_is_fetched(origin: Origin, tmp_path: Path) -> None:
    ref = resolve(origin.file_url, origin.second)
    assert ref.resolved == origin.second
    dest = GitSource().fetch(ref, tmp_path / "old")
    assert head_of(dest) == origin.second
    assert not (dest / "main.txt").exists() and (dest / "requirements.txt").exists()


def test_abbreviated_sha_expands_to_the_full_one(origin: Origin) -> None:
    assert resolve(origin.file_url, origin.second[:9]).resolved == origin.second
    assert resolve(origin.file_url, origin.main[:7]).resolved == origin.main


def test_unknown_ref_lists_available_branches(origin: Origin) -> None:
    with pytest.raises(RefNotFound) as err:
        resolve(origin.file_url, "no-such-branch")
    message = str(err.value)
    assert "'no-such-branch' does not exist" in message
    assert "available branches: main, dev" in message


def test_unknown_abbreviated_sha_is_ref_not_found(origin: Origin) -> None:
    with pytest.raises(RefNotFound):
        resolve(origin.file_url, "abcdef1234")


def test_unknown_repository_says_not_found(origin: Origin) -> None:
    with pytest.raises(SourceError, match="repository not found"):
        resolve((origin.base / "owner" / "missing.git").as_uri())


def test_unreachable_host_says_could_not_reach(closed_port: int) -> None:
    with pytest.raises(SourceError, match=rf"could not reach 127.0.0.1:{closed_port}: .*(refused|connect)"):
        resolve(f"git://127.0.0.1:{closed_port}/owner/repo.git")
    with pytest.raises(SourceError, match=rf"could not reach 127.0.0.1:{closed_port}"):
        resolve(f"http://127.0.0.1:{closed_port}/owner/repo.git")


def test_git_daemon_serves_branch_tag_and_sha(origin: Origin, git_daemon: str, tmp_path: Path) -> None:
    url = f"{git_daemon}/owner/repo.git"
    assert resolve(url).resolved == origin.main
    assert resolve(url, "v2").resolved == origin.v2
    ref = resolve(url, origin.second[:8])
    assert ref.resolved == origin.second
    assert head_of(GitSource().fetch(ref, tmp_path / "d")) == origin.second


def test_git_daemon_unknown_repository(git_daemon: str) -> None:
    with pytest.raises(SourceError, match="repository not found"):
        resolve(f"{git_daemon}/owner/nope.git")


def test_smart_http_fetch(origin: Origin, http_git: str, tmp_path: Path) -> None:
    ref = resolve(f"{http_git}/owner/repo.git", "dev")
    assert ref.resolved == origin.dev
    assert head_of(GitSource().fetch(ref, tmp_path / "h")) == origin.dev
    with pytest.raises(SourceError, match="repository not found"):
        resolve(f"{http_git}/owner/nope.git")


def test_oversized_repository_is_refused_and_removed(tmp_path: Path) -> None:
    work = tmp_path / "big"
    work.mkdir()
    from .conftest import git

    git("init", "-q", cwd=work)
    (work / "blob.bin").write_bytes(__import__("os").urandom(300_000))
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "big", cwd=work)
    ref = resolve(work.as_uri())
    dest = tmp_path / "dest"
    with pytest.raises(SourceError, match=r"larger than the limit of 0.1 MB"):
        GitSource().fetch(ref, dest, max_bytes=100_000)
    assert not dest.exists()
    # The same repository fits a larger limit.
    assert (GitSource().fetch(ref, tmp_path / "ok", max_bytes=5_000_000) / "blob.bin").stat().st_size == 300_000


def test_fetch_refuses_a_non_empty_destination(origin: Origin, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(SourceError, match="not empty"):
        GitSource().fetch(resolve(origin.file_url), tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_slow_server_hits_the_timeout() -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(SourceError, match="longer than 1 seconds"):
            GitSource(timeout=1).resolve(f"git://127.0.0.1:{port}/owner/repo.git")


def test_unresolved_ref_is_refused_by_fetch(origin: Origin, tmp_path: Path) -> None:
    from bindery.sources.base import Ref

    with pytest.raises(SpecError):
        GitSource().fetch(Ref(source="git", url=origin.file_url, resolved="main"), tmp_path / "x")


def test_server_refusing_fetch_by_sha_falls_back_to_a_full_fetch(origin: Origin, http_git_v0: str,
                                                                 tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bindery.sources.git")
    url = f"{http_git_v0}/owner/repo.git"
    ref = resolve(url, origin.second)  # the tag v2 points here, but by sha it is unadvertised
    dest = GitSource().fetch(ref, tmp_path / "fallback")
    assert head_of(dest) == origin.second
    assert "by sha refused" in caplog.text  # the fallback really ran
    ref = resolve(url, origin.first[:10])
    assert head_of(GitSource().fetch(ref, tmp_path / "fallback2")) == origin.first


def test_dangling_default_branch_names_the_branches_that_exist(tmp_path: Path) -> None:
    """A bare repository whose HEAD names a branch nobody pushed is not "empty"."""
    from .conftest import git

    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "trunk", str(work))
    (work / "a.txt").write_text("a\n")
    git("add", "a.txt", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "a", cwd=work)
    bare = tmp_path / "dangling.git"
    git("init", "-q", "--bare", "-b", "nothing-here", str(bare))
    git("push", "-q", str(bare), "trunk", cwd=work)
    with pytest.raises(RefNotFound, match=r"default branch .* does not exist.*--ref.*trunk"):
        resolve(f"file://{bare}")
    assert resolve(f"file://{bare}", "trunk").resolved == git("rev-parse", "HEAD", cwd=work)
