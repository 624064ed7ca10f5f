"""Issue 8, finding 5: SSRF through git submodules.

An outer repository whose ``.gitmodules`` pointed at a git daemon on 127.0.0.1 got
that internal repository's content into the image: the public-host check covered
only the top-level URL. Now every submodule URL, recursively, passes the rules of a
repository URL (scheme allow-list; on a public service, the public-host check), and
``file://``/local paths/``ext::`` are never fetched as submodules in any mode.

Everything is served by ``git daemon`` on 127.0.0.1; the "internal" repository is
just another repository on that daemon.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sources.conftest import GIT_ENV, free_port, git

from bindery.composition import Settings, load_settings, make_builder
from bindery.errors import SpecError
from bindery.sources import SourceCatalog
from bindery.sources.git import GitOptions, GitSource
from bindery.sources.gitcmd import run_git

# Only names that existed before the fix are imported here, so this file also runs
# (and fails) against the code before the fix.

SECRET = "internal secret of 127.0.0.1\n"


@dataclass
class Daemon:
    """Bare repositories under ``root`` served by ``git daemon`` on 127.0.0.1."""

    root: Path
    port: int

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def publish(self, name: str, files: dict[str, str],
                submodules: dict[str, tuple[str, str]] | None = None) -> str:
        """A repository ``name`` with ``files`` and gitlinks ``{path: (url in .gitmodules, commit)}``.

        The gitlinks are written directly (nothing is contacted), so any URL can be
        recorded, as an attacker's repository would. Returns its head commit.
        """
        work = self.root / "work" / name
        work.mkdir(parents=True)
        git("init", "-q", cwd=work)
        for rel, text in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(text)
        modules = "".join(f'[submodule "{path}"]\n\tpath = {path}\n\turl = {url}\n'
                          for path, (url, _commit) in (submodules or {}).items())
        if modules:
            (work / ".gitmodules").write_text(modules)
        git("add", "-A", cwd=work)
        for path, (_url, commit) in (submodules or {}).items():
            git("update-index", "--add", "--cacheinfo", f"160000,{commit},{path}", cwd=work)
        git("commit", "-q", "-m", f"{name}", cwd=work)
        git("clone", "-q", "--bare", str(work), str(self.root / "srv" / f"{name}.git"))
        return git("rev-parse", "HEAD", cwd=work)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("submodule-ssrf")
    (root / "srv").mkdir()
    port = free_port()
    process = subprocess.Popen(
        ["git", "daemon", "--export-all", "--reuseaddr", f"--base-path={root / 'srv'}",
         "--listen=127.0.0.1", f"--port={port}", str(root / "srv")],
        env=GIT_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield Daemon(root, port)
    finally:
        process.terminate()
        process.wait(10)


@dataclass
class Repos:
    daemon: Daemon
    internal: str  # commit of the "internal" repository
    outer: str  # git:// URL: submodule with an absolute git://127.0.0.1 URL
    relative: str  # git:// URL: submodule with a relative URL (resolves to the same daemon)
    nested: str  # outer → middle → internal


@pytest.fixture(scope="module")
def repos(daemon: Daemon) -> Repos:
    internal = daemon.publish("internal", {"SECRET.txt": SECRET})
    daemon.publish("outer", {"README.md": "outer\n"},
                   {"vendor/internal": (daemon.url("internal"), internal)})
    daemon.publish("relative", {"README.md": "relative\n"},
                   {"vendor/internal": ("../internal.git", internal)})
    middle = daemon.publish("middle", {"MIDDLE.txt": "middle\n"},
                            {"deeper/internal": (daemon.url("internal"), internal)})
    daemon.publish("nested", {"README.md": "nested\n"},
                   {"vendor/middle": (daemon.url("middle"), middle)})
    daemon.publish("owner/outer", {"README.md": "outer on a forge\n"},
                   {"vendor/internal": (daemon.url("internal"), internal)})
    return Repos(daemon, internal, daemon.url("outer"), daemon.url("relative"),
                 daemon.url("nested"))


def fetch(source: GitSource, url: str, dest: Path) -> Path:
    return source.fetch(source.resolve(url), dest)


def git_source(settings: Settings, *, public: bool) -> GitSource:
    """The git source of the builder the composition root makes (``bindery serve``: public)."""
    kwargs = {"public": True} if public else {}
    builder = make_builder(settings, engine=object(), **kwargs)  # type: ignore[arg-type]
    source = builder.sources.named("git")
    assert isinstance(source, GitSource)
    return source


def public() -> GitSource:
    """``bindery serve`` without ``allow_local_repos``."""
    return git_source(Settings(), public=True)


def trusted() -> GitSource:
    """``bindery build``."""
    return git_source(Settings(), public=False)


# -- public mode: the internal content never arrives, and the error says why -------------------


@pytest.mark.parametrize("which", ["outer", "relative"])
def test_public_mode_refuses_a_submodule_on_loopback(repos: Repos, tmp_path: Path,
                                                     which: str) -> None:
    dest = tmp_path / "checkout"
    with pytest.raises(SpecError) as refused:
        fetch(public(), getattr(repos, which), dest)
    message = str(refused.value)
    assert "submodule 'vendor/internal'" in message
    assert "127.0.0.1" in message and "private network" in message
    assert "allow_local_repos" in message  # says how an administrator allows it
    assert not dest.exists()  # nothing left behind, the secret least of all
    assert not list(tmp_path.rglob("SECRET.txt"))


@pytest.mark.parametrize("shorthand", ["gh", "gl"])
def test_public_mode_covers_the_forge_shorthands(repos: Repos, tmp_path: Path,
                                                 shorthand: str) -> None:
    """``gh:owner/repo`` is a git URL too: its submodules follow the same rules.

    The forge's base URL points at the loopback daemon here (as a self-hosted forge
    would be configured); the repository itself is the operator's choice, its
    submodule on 127.0.0.1 is the attacker's.
    """
    config = tmp_path / "bindery.toml"
    config.write_text(f"[sources.{shorthand}]\nbase_url = 'git://127.0.0.1:{repos.daemon.port}'\n")
    settings = load_settings(config, environ={})
    builder = make_builder(settings, engine=object(), public=True)  # type: ignore[arg-type]
    source = builder.sources.find(f"{shorthand}:owner/outer")
    ref = source.resolve(f"{shorthand}:owner/outer")
    with pytest.raises(SpecError) as refused:
        builder.sources.named(ref.source).fetch(ref, tmp_path / "checkout")
    assert "submodule 'vendor/internal'" in str(refused.value)
    assert not list(tmp_path.rglob("SECRET.txt"))
    # The same shorthand for bindery build: fetched as before.
    trusted_builder = make_builder(settings, engine=object())  # type: ignore[arg-type]
    checkout = trusted_builder.sources.named(ref.source).fetch(ref, tmp_path / "trusted")
    assert (checkout / "vendor/internal/SECRET.txt").read_text() == SECRET


def test_public_mode_checks_submodules_of_submodules(repos: Repos, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The first level is allowed (as if it were public); its own submodule is still checked."""
    import bindery.sources.submodules as submodules

    real_check = submodules.check_public_remote

    def middle_is_public(url: str) -> None:
        if not url.endswith("/middle.git"):
            real_check(url)

    monkeypatch.setattr(submodules, "check_public_remote", middle_is_public)
    with pytest.raises(SpecError) as refused:
        fetch(public(), repos.nested, tmp_path / "checkout")
    assert "submodule 'deeper/internal'" in str(refused.value)
    assert "127.0.0.1" in str(refused.value)
    assert not list(tmp_path.rglob("SECRET.txt"))


def test_public_binder_stream_fails_with_the_reason(repos: Repos, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real launch service in public mode (``make_builder(public=True)``).

    The outer repository's own host is treated as public (the top-level check is
    not what is tested here); its submodule on 127.0.0.1 is refused, and the
    visitor's build log ends with the reason.
    """
    from starlette.testclient import TestClient

    import bindery.binder.service as service
    from bindery.binder.app import create_app

    class NoImagesEngine:
        """Nothing is built yet; the fetch fails before any image would be."""

        def image_labels(self, name: str) -> None:
            return None

    monkeypatch.setattr(service, "check_public_remote", lambda url: None)
    settings = Settings()
    settings.builder.work_dir = tmp_path / "work"
    settings.binder.rate_limit = 0
    assert settings.allow_local_repos is False
    builder = make_builder(settings, engine=NoImagesEngine(), public=True)  # type: ignore[arg-type]
    app = create_app(settings.binder, builder, allow_local_repos=settings.allow_local_repos)
    with TestClient(app) as client:
        stream = client.get(f"/build/git/{quote(repos.outer, safe='')}/HEAD?build_only=1")
    events = [json.loads(line[5:]) for line in stream.text.splitlines()
              if line.startswith("data:")]
    assert [e["phase"] for e in events][-1] == "failed"
    assert "fetching" in [e["phase"] for e in events]  # the outer repository was fetched...
    last = events[-1]["message"]
    assert "submodule 'vendor/internal'" in last and "127.0.0.1" in last  # ...its submodule not
    assert not list((tmp_path / "work").rglob("SECRET.txt"))


# -- trusted mode (bindery build, allow_local_repos): works as before ------------------------------


def test_trusted_mode_still_fetches_submodules_recursively(repos: Repos, tmp_path: Path) -> None:
    direct = fetch(trusted(), repos.outer, tmp_path / "outer")
    assert (direct / "vendor/internal/SECRET.txt").read_text() == SECRET
    relative = fetch(trusted(), repos.relative, tmp_path / "relative")
    assert (relative / "vendor/internal/SECRET.txt").read_text() == SECRET
    nested = fetch(trusted(), repos.nested, tmp_path / "nested")
    assert (nested / "vendor/middle/MIDDLE.txt").exists()
    assert (nested / "vendor/middle/deeper/internal/SECRET.txt").read_text() == SECRET


def test_who_gets_which_policy(tmp_path: Path) -> None:
    """The composition root decides: bindery build trusts, a public service does not."""

    def git_policy(settings: Settings, public: bool) -> Any:
        return git_source(settings, public=public).submodules

    settings = Settings()
    assert git_policy(settings, public=False).allow_private_hosts  # bindery build
    assert not git_policy(settings, public=True).allow_private_hosts  # bindery serve
    settings.allow_local_repos = True
    assert git_policy(settings, public=True).allow_private_hosts  # serve --allow-local-repos
    config = tmp_path / "bindery.toml"
    config.write_text("[sources.git]\ntimeout = 30\nallow_private_submodules = true\n")
    explicit = load_settings(config, environ={})
    assert git_policy(explicit, public=True).allow_private_hosts  # an administrator's choice
    for shorthand in ("gh", "gl", "gist"):  # the forge shorthands are git sources too
        made = make_builder(Settings(), engine=object(), public=True)  # type: ignore[arg-type]
        forge = made.sources.named(shorthand)
        assert isinstance(forge, GitSource) and not forge.submodules.allow_private_hosts
    config.write_text("[sources.git]\nsubmodules = false\n")
    off = git_policy(load_settings(config, environ={}), public=True)
    assert not off.enabled and not off.allow_private_hosts
    # The other options survive the public rules.
    assert GitOptions(timeout=30).for_public_service().timeout == 30


def test_submodules_can_be_turned_off(repos: Repos, tmp_path: Path) -> None:
    source = SourceCatalog({"git": GitOptions(submodules=False)}).named("git")
    assert isinstance(source, GitSource)
    checkout = fetch(source, repos.outer, tmp_path / "checkout")
    assert (checkout / "README.md").exists()
    assert not (checkout / "vendor/internal/SECRET.txt").exists()


# -- dangerous transports: never, in any mode ----------------------------------------------------


def _attacker_repo(daemon: Daemon, url: str, commit: str) -> str:
    name = f"attacker-{uuid.uuid4().hex[:8]}"
    daemon.publish(name, {"README.md": "hello\n"}, {"sub": (url, commit)})
    return daemon.url(name)


@pytest.mark.parametrize("mode", [trusted, public])
def test_ext_submodule_never_runs(repos: Repos, tmp_path: Path, mode: Callable[[], GitSource]
                                  ) -> None:
    pwned = tmp_path / "pwned"
    url = _attacker_repo(repos.daemon, f"ext::sh -c touch% {pwned}", repos.internal)
    with pytest.raises(SpecError) as refused:
        fetch(mode(), url, tmp_path / "checkout")
    assert "submodule 'sub'" in str(refused.value) and "ext::" in str(refused.value)
    assert not pwned.exists()


@pytest.mark.parametrize("mode", [trusted, public])
@pytest.mark.parametrize("local", ["file", "path"])
def test_local_submodules_are_never_fetched(repos: Repos, tmp_path: Path,
                                            mode: Callable[[], GitSource], local: str) -> None:
    bare = repos.daemon.root / "srv" / "internal.git"
    url = _attacker_repo(repos.daemon, bare.as_uri() if local == "file" else str(bare),
                         repos.internal)
    with pytest.raises(SpecError) as refused:
        fetch(mode(), url, tmp_path / "checkout")
    assert "path on this machine" in str(refused.value)
    assert not list(tmp_path.rglob("SECRET.txt"))


@pytest.mark.parametrize("kind", ["ext", "file"])
def test_git_itself_refuses_dangerous_submodule_transports(repos: Repos, tmp_path: Path,
                                                           kind: str) -> None:
    """Defence in depth: even ``submodule update --init`` run directly through the hardened
    runner (the URL checks bypassed) neither runs ``ext::`` nor reads ``file://``."""
    pwned = tmp_path / "pwned"
    bare = repos.daemon.root / "srv" / "internal.git"
    url = f"ext::sh -c touch% {pwned}" if kind == "ext" else bare.as_uri()
    checkout = tmp_path / "checkout"
    git("clone", "-q", _attacker_repo(repos.daemon, url, repos.internal), str(checkout))
    result = run_git(["submodule", "update", "--init", "--recursive"], cwd=checkout)
    assert result.returncode != 0
    assert "not allowed" in result.stderr
    assert not pwned.exists()
    assert not (checkout / "sub" / "SECRET.txt").exists()


def test_the_top_level_file_url_still_works_from_the_command(repos: Repos, tmp_path: Path) -> None:
    """``protocol.file.allow=user``: a file:// URL a person names is still fetched."""
    bare = repos.daemon.root / "srv" / "internal.git"
    checkout = fetch(trusted(), bare.as_uri(), tmp_path / "checkout")
    assert (checkout / "SECRET.txt").read_text() == SECRET
