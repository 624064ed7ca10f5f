"""The conda client runs on the builder host: a repository must not make it fetch URLs.

An ``environment.yml`` may name channels by URL and a lock file lists package URLs. The
builder host only contacts channels the deployment configured (channel names through
``channel_alias`` / ``channel_urls``, or exactly those URLs); anything else — a service on
127.0.0.1, ``file://`` paths — is never fetched: ``auto`` falls back to PyPI and says why,
``conda`` refuses the repository. Every package URL of a lock file must lie under an
allowed channel. The "internal service" is an HTTP server on 127.0.0.1 counting requests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builder.conda_channel import serve, standin_channel

from bindery.builder.host_work import host_runner
from bindery.environment import EnvironmentOptions, RepoConfigError, detect, render
from bindery.environment.conda import CondaModule, CondaOptions
from bindery.errors import BuildError


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for name, text in files.items():
        (repo / name).write_text(text)
    return repo


def test_a_repository_channel_url_on_loopback_is_never_fetched(tmp_path: Path) -> None:
    internal = tmp_path / "internal"
    (internal / "noarch").mkdir(parents=True)
    (internal / "noarch" / "repodata.json").write_text('{"secret": true}')
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with serve(internal) as (url, seen):
        repo = _repo(tmp_path, {"environment.yml": f"channels: ['{url}']\ndependencies: [numpy]\n"})
        runner = host_runner(ctx, tmp_path, lambda e: None)
        env = detect(repo, EnvironmentOptions(), [CondaModule()], run_host_work=runner)
        with pytest.raises(RepoConfigError, match="is a URL this deployment does not allow"):
            detect(repo, EnvironmentOptions(), [CondaModule(CondaOptions(mode="conda"))], run_host_work=runner)
    assert seen == []
    report = json.loads(render(env, EnvironmentOptions(), ca_bundle=None).labels["org.bindery.conda"])
    assert report["mode"] == "fallback" and "does not allow" in report["reason"]


def test_a_file_channel_in_a_repository_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"environment.yml": "channels: ['file:///etc']\ndependencies: [numpy]\n"})
    with pytest.raises(RepoConfigError, match="file:///etc is a URL this deployment does not allow"):
        detect(repo, EnvironmentOptions(), [CondaModule(CondaOptions(mode="conda"))],
               run_host_work=host_runner(tmp_path, tmp_path, lambda e: None))


def test_a_lock_file_package_url_outside_the_channels_is_never_fetched(tmp_path: Path) -> None:
    standin_channel(tmp_path / "channels")
    internal = tmp_path / "internal"
    internal.mkdir()
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    with serve(tmp_path / "channels") as (channel_url, _), serve(internal) as (internal_url, seen):
        lock = {"version": 1, "metadata": {"content_hash": {"linux-64": "x"},
                "channels": [{"url": "standin", "used_env_vars": []}], "platforms": ["linux-64"],
                "sources": ["environment.yml"]},
                "package": [{"name": "hello", "version": "1.2.3", "manager": "conda",
                             "platform": "linux-64", "dependencies": {}, "category": "main",
                             "optional": False, "url": f"{internal_url}/secret/hello-1.2.3-0.tar.bz2",
                             "hash": {"md5": "0" * 32, "sha256": "0" * 64}}]}
        repo = _repo(tmp_path, {"conda-lock.yml": json.dumps(lock)})
        module = CondaModule(CondaOptions(mode="conda", channel_alias=channel_url, channels=("standin",),
                                          cache_dir=str(tmp_path / "cache")))
        with pytest.raises(BuildError, match="not under a channel this deployment allows"):
            detect(repo, EnvironmentOptions(), [module],
                   run_host_work=host_runner(ctx, tmp_path, lambda e: None))
    assert seen == []
