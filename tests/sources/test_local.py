"""Local directories: identity from content, copies without .git, --ref only for git work trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bindery.errors import SourceError, SpecError
from bindery.sources import resolve
from bindery.sources.local import LocalSource

from .conftest import Origin, git
from .test_git import head_of


@pytest.fixture
def plain_dir(tmp_path: Path) -> Path:
    root = tmp_path / "my-project"
    (root / "sub").mkdir(parents=True)
    (root / "requirements.txt").write_text("numpy\n")
    (root / "sub" / "data.csv").write_text("a,b\n1,2\n")
    return root


@pytest.fixture
def work_tree(origin: Origin, tmp_path: Path) -> Path:
    clone = tmp_path / "clone"
    git("clone", "-q", origin.file_url, str(clone))
    return clone


def test_plain_directory_hash_is_stable_and_follows_content(plain_dir: Path) -> None:
    first = resolve(str(plain_dir))
    assert first.source == "local" and first.display_name == "my-project" and first.requested is None
    assert len(first.resolved) == 40
    assert resolve(str(plain_dir)).resolved == first.resolved
    (plain_dir / "sub" / "data.csv").write_text("a,b\n1,3\n")
    changed = resolve(str(plain_dir)).resolved
    assert changed != first.resolved
    (plain_dir / "sub" / "data.csv").rename(plain_dir / "sub" / "renamed.csv")
    assert resolve(str(plain_dir)).resolved not in (first.resolved, changed)


def test_home_is_expanded(plain_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(plain_dir.parent))
    assert resolve("~/my-project").url == str(plain_dir.resolve())


def test_fetch_copies_everything_but_git(work_tree: Path, tmp_path: Path) -> None:
    (work_tree / "untracked.txt").write_text("new")
    dest = LocalSource().fetch(resolve(str(work_tree)), tmp_path / "copy")
    assert sorted(p.name for p in dest.iterdir()) == ["README.md", "main.txt", "requirements.txt", "untracked.txt"]


def test_clean_work_tree_is_its_head_commit(origin: Origin, work_tree: Path) -> None:
    assert resolve(str(work_tree)).resolved == origin.main


def test_dirty_work_tree_gets_a_hash_of_its_changes(origin: Origin, work_tree: Path) -> None:
    (work_tree / "main.txt").write_text("edited\n")
    edited = resolve(str(work_tree)).resolved
    assert edited.startswith(f"{origin.main}-dirty-")
    (work_tree / "main.txt").write_text("edited again\n")
    again = resolve(str(work_tree)).resolved
    assert again.startswith(f"{origin.main}-dirty-") and again != edited
    (work_tree / "main.txt").write_text("on main\n")
    assert resolve(str(work_tree)).resolved == origin.main
    (work_tree / "notes.txt").write_text("untracked\n")
    untracked = resolve(str(work_tree)).resolved
    assert untracked.startswith(f"{origin.main}-dirty-")
    (work_tree / "notes.txt").write_text("untracked, changed\n")
    assert resolve(str(work_tree)).resolved != untracked


def test_ref_on_a_git_dir_checks_out_that_ref(origin: Origin, work_tree: Path, tmp_path: Path) -> None:
    ref = resolve(str(work_tree), "v2")
    assert ref.resolved == origin.v2 and ref.source == "local" and ref.url.startswith("file://")
    dest = LocalSource().fetch(ref, tmp_path / "v2")
    assert head_of(dest) == origin.v2 and not (dest / "main.txt").exists()


def test_ref_on_a_plain_dir_is_refused(plain_dir: Path) -> None:
    with pytest.raises(SpecError, match="not a git repository"):
        resolve(str(plain_dir), "main")


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="is not a directory"):
        resolve(str(tmp_path / "nope"))


def test_oversized_local_directory(plain_dir: Path, tmp_path: Path) -> None:
    (plain_dir / "big.bin").write_bytes(os.urandom(200_000))
    dest = tmp_path / "dest"
    with pytest.raises(SourceError, match=r"larger than the limit of 0.1 MB"):
        LocalSource().fetch(resolve(str(plain_dir)), dest, max_bytes=100_000)
    assert not dest.exists()
