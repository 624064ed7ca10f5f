"""A directory on this machine, identified by what is in it.

A local directory has no immutable name, so its identity is derived from its
content: the HEAD commit for a clean git work tree, HEAD plus a hash of the
uncommitted changes for a dirty one, and a hash of every file otherwise. That
way an edit gives a new image name instead of silently reusing a stale image.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import ClassVar

from bindery.errors import SourceError, SpecError
from bindery.plugins import PluginOptions
from bindery.sources.base import LaunchProvider, Ref, Source
from bindery.sources.git import DEFAULT_MAX_BYTES, GitOptions, GitSource
from bindery.sources.gitcmd import DEFAULT_TIMEOUT, GitSizeExceeded, git_reason, run_git
from bindery.sources.validation import check_ref

EXPECTED_FORMS = (
    "expected a path, a git URL (https://, git://, ssh://, file://) or "
    "gh:owner/repo, gl:group/project, gist:user/id"
)


def content_hash(root: Path) -> str:
    """sha256 over sorted relative paths and file bytes (``.git`` skipped; symlinks by target)."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for name in sorted(filenames):
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            digest.update(rel.encode("utf-8", "surrogateescape") + b"\0")
            if path.is_symlink():
                digest.update(b"L" + os.readlink(path).encode("utf-8", "surrogateescape"))
            else:
                digest.update(b"F")
                with path.open("rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(chunk)
            digest.update(b"\0")
        # Empty directories count too: they may matter to a build.
        for name in dirnames:
            digest.update(Path(dirpath, name).relative_to(root).as_posix().encode("utf-8", "surrogateescape") + b"/\0")
    return digest.hexdigest()


class LocalSource(Source):
    """A path (``~`` expanded). ``--ref`` is only accepted for git work trees."""

    name: ClassVar[str] = "local"
    #: A path on the server is never something a link may name.
    launch_provider: ClassVar[LaunchProvider | None] = None
    timeout: float = DEFAULT_TIMEOUT
    options_model: ClassVar[type[PluginOptions]] = GitOptions

    @classmethod
    def from_options(cls, options: PluginOptions) -> Source:
        source = cls()
        if isinstance(options, GitOptions):
            source.timeout = options.timeout
        return source

    @classmethod
    def accepts(cls, spec: str) -> bool:
        return spec.startswith(("/", ".", "~")) or ":" not in spec

    def directory(self, spec: str) -> Path:
        """The absolute directory ``spec`` names, or a clear error."""
        if not spec or "\0" in spec or spec.startswith("-"):
            raise SpecError(f"{spec!r}: cannot tell what kind of repository this is; {EXPECTED_FORMS}.")
        path = Path(spec).expanduser()
        if not path.is_dir():
            raise SourceError(
                f"{spec!r} is not a directory on this machine (and cannot tell what other kind of repository "
                f"it is; {EXPECTED_FORMS})."
            )
        return path.resolve()

    def resolve(self, spec: str, ref: str | None = None) -> Ref:
        path = self.directory(spec)
        is_git = (path / ".git").exists()
        if ref is not None:
            check_ref(ref)
            if not is_git:
                raise SpecError(
                    f"{spec!r} is not a git repository, so it has no branches, tags or commits: "
                    f"leave out the ref ({ref!r}) to build the directory as it is."
                )
            git_ref = GitSource(timeout=self.timeout).resolve(path.as_uri(), ref)
            return Ref(source=self.name, url=git_ref.url, resolved=git_ref.resolved,
                       requested=ref, display_name=path.name)
        resolved = self._git_identity(path) if is_git else None
        if resolved is None:
            resolved = content_hash(path)[:40]
        return Ref(source=self.name, url=str(path), resolved=resolved, requested=None, display_name=path.name)

    def _git_identity(self, path: Path) -> str | None:
        """HEAD sha, plus ``-dirty-<hash>`` of tracked and untracked changes; None without commits."""
        head = run_git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd=path, timeout=self.timeout)
        if head.returncode != 0:
            return None
        sha = head.stdout.strip()
        diff = run_git(["diff", "HEAD", "--binary", "--no-ext-diff", "--no-textconv"], cwd=path, timeout=self.timeout)
        untracked = run_git(["ls-files", "-z", "--others", "--exclude-standard"], cwd=path, timeout=self.timeout)
        if diff.returncode != 0 or untracked.returncode != 0:
            raise SourceError(f"cannot read the git state of {path}: {git_reason(diff.stderr + untracked.stderr)}")
        names = sorted(n for n in untracked.stdout.split("\0") if n)
        if not diff.stdout and not names:
            return sha
        digest = hashlib.sha256(diff.stdout.encode("utf-8", "surrogateescape"))
        for name in names:
            file = path / name
            digest.update(b"\0" + name.encode("utf-8", "surrogateescape") + b"\0")
            if file.is_symlink():
                digest.update(os.readlink(file).encode("utf-8", "surrogateescape"))
            elif file.is_file():
                digest.update(file.read_bytes())
        return f"{sha}-dirty-{digest.hexdigest()[:12]}"

    def fetch(self, ref: Ref, dest: Path, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Path:
        """Copy the directory (without ``.git``) into ``dest``; a pinned git ref is checked out instead."""
        if ref.url.startswith("file://"):
            return GitSource(timeout=self.timeout).fetch(ref, dest, max_bytes=max_bytes)
        src = Path(ref.url)
        if not src.is_dir():
            raise SourceError(f"the directory {src} no longer exists")
        dest = Path(dest)
        existed = dest.exists()
        if existed and any(dest.iterdir()):
            raise SourceError(f"cannot copy into {dest}: the directory is not empty")
        copied = 0

        def count(_dir: str, names: list[str]) -> list[str]:
            nonlocal copied
            for name in names:
                full = os.path.join(_dir, name)
                if not os.path.islink(full) and os.path.isfile(full):
                    copied += os.path.getsize(full)
            if max_bytes is not None and copied > max_bytes:
                raise GitSizeExceeded()
            return [".git"] if ".git" in names else []

        try:
            shutil.copytree(src, dest, symlinks=True, ignore=count, dirs_exist_ok=True)
        except GitSizeExceeded:
            shutil.rmtree(dest, ignore_errors=True)
            if existed:
                dest.mkdir()
            raise SourceError(f"repository is larger than the limit of {(max_bytes or 0) / 1e6:g} MB ({src})") from None
        except OSError as exc:
            shutil.rmtree(dest, ignore_errors=True)
            raise SourceError(f"could not copy {src}: {exc}") from exc
        return dest
