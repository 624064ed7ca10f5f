"""Fixtures for builder tests: throwaway git repositories and an isolated builder.

Images built here are named with the ``bindery-test-builder`` prefix and removed
at the end of the session; BuildKit's layer cache survives, so re-runs are fast.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from bindery.builder import Builder
from bindery.composition import Settings, make_builder

PREFIX = "bindery-test-builder"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
        env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
             "HOME": str(cwd), "PATH": "/usr/bin:/bin"},
    ).stdout.strip()


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel.endswith(("postBuild", "start", "verify")):
            path.chmod(0o755)


MakeRepo = Callable[..., Path]


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """``make_repo(files, name="repo")`` → a committed git work tree."""
    counter = iter(range(1000))

    def _make(files: dict[str, str], name: str | None = None) -> Path:
        root = tmp_path / (name or f"repo{next(counter)}")
        root.mkdir()
        write_files(root, files)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "initial")
        return root

    return _make


@pytest.fixture
def bare_url(tmp_path: Path) -> Callable[[Path], str]:
    """Push a work tree (all branches and tags) to a bare repo; return its file:// URL."""

    def _bare(work: Path) -> str:
        bare = tmp_path / f"{work.name}.git"
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
        git(work, "push", "-q", "--all", str(bare))
        git(work, "push", "-q", "--tags", str(bare))
        return f"file://{bare}"

    return _bare


@pytest.fixture(scope="session")
def settings() -> Settings:
    s = Settings()
    s.builder.image_prefix = PREFIX
    return s


@pytest.fixture(scope="session")
def builder(settings: Settings) -> Iterator[Builder]:
    b = make_builder(settings)
    yield b
    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith(PREFIX + "/") and "/default:" not in tag:
                try:
                    client.images.remove(tag)
                except docker.errors.APIError:
                    pass


def run_in_image(image: str, command: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` through the image's own entrypoint (so ``start`` wraps it)."""
    args = ["/usr/bin/docker", "run", "--rm", "--memory", "512m"]
    if user:
        args += ["--user", user]
    return subprocess.run([*args, image, "bash", "-c", command],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def options():
    """The builder's default environment options (for tests that need no engine)."""
    from bindery.builder.settings import BuilderSettings

    return BuilderSettings(extra_ca_certificates=[]).environment_options()


@pytest.fixture
def make_repo_dir(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A plain checkout directory (no git) with these files."""
    counter = iter(range(1000))

    def _make(files: dict[str, str]) -> Path:
        root = tmp_path / f"plain{next(counter)}"
        root.mkdir()
        write_files(root, files)
        return root

    return _make
