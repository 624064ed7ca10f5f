"""The conda client on the builder host, against a local channel served on 127.0.0.1
(a stand-in: real conda channels cannot be reached from this machine). No engine."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from bindery.builder.conda_client import probe_channel, run_conda_work
from bindery.builder.host_work import host_runner
from bindery.environment import EnvironmentOptions, detect, render
from bindery.environment.conda import CondaModule, CondaOptions
from bindery.environment.modules import HostWork
from bindery.errors import BuildError

from .conda_channel import serve, standin_channel


@pytest.fixture(scope="module")
def channel_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("channels")
    standin_channel(root)
    return root


def _events() -> tuple[list[str], object]:
    lines: list[str] = []
    return lines, lambda event: lines.append(event["message"])


def _request(url: str, cache: Path, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "source": "environment.yml", "channels": [f"{url}/standin"], "specs": ["hello"],
        "kernel_packages": ["ipykernel"], "prefix": "/srv/conda", "platform": "linux-64",
        "probe_timeout": 2.0, "cache_dir": str(cache), "mirrors": {},
        "allowed_prefixes": [f"{url}/"], "lock_name": None, "lock_text": None,
    }
    base.update(extra)
    return base


def test_client_solves_and_links_with_the_image_prefix_standin(channel_root: Path, tmp_path: Path) -> None:
    lines, emit = _events()
    with serve(channel_root) as (url, _):
        work = HostWork("conda", _request(url, tmp_path / "cache"), "conda-env")
        result = run_conda_work(work, tmp_path / "ctx" / "conda-env", tmp_path, emit)  # type: ignore[arg-type]
    assert result.reachable
    names = {p["name"]: p["version"] for p in result.data["packages"]}
    assert names == {"hello": "1.2.3", "hello-lib": "2.0"}  # newest lib; no python → no ipykernel
    prefix = tmp_path / "ctx" / "conda-env"
    assert (prefix / "bin" / "hello").read_text() == "#!/bin/sh\necho hello from /srv/conda\n"
    assert (prefix / "share/hello/data.txt").read_text() == "lib 2.0\n"
    assert (prefix / "conda-meta").is_dir()
    assert (prefix / "bin/.hello-post-link.sh").is_file()
    assert not (prefix / "share/hello/post-link.txt").exists()  # link scripts never run on the host
    assert any("solved 2 packages" in line for line in lines)


def test_a_lock_file_installs_exactly_its_pins_standin(channel_root: Path, tmp_path: Path) -> None:
    with serve(channel_root) as (url, _):
        lock = _conda_lock(url)
        work = HostWork("conda", _request(url, tmp_path / "cache", lock_name="conda-lock.yml",
                                          lock_text=lock), "conda-env")
        result = run_conda_work(work, tmp_path / "env", tmp_path, lambda e: None)
    assert {p["name"]: p["version"] for p in result.data["packages"]} == {"hello": "1.2.3", "hello-lib": "1.0"}
    assert result.data["pip_pins"] == ["tomli-w==1.0.0"]
    assert (tmp_path / "env/share/hello/data.txt").read_text() == "lib 1.0\n"


def _conda_lock(url: str) -> str:
    """A conda-lock.yml (v1) pinning hello 1.2.3 with the older hello-lib 1.0."""
    import hashlib
    import urllib.request

    packages = []
    for name, version, deps in (("hello", "1.2.3", {"hello-lib": ">=1"}), ("hello-lib", "1.0", {})):
        file_url = f"{url}/standin/noarch/{name}-{version}-0.tar.bz2"
        data = urllib.request.urlopen(file_url, timeout=5).read()  # noqa: S310 - 127.0.0.1
        packages.append({
            "name": name, "version": version, "manager": "conda", "platform": "linux-64",
            "dependencies": deps, "url": file_url, "category": "main", "optional": False,
            "hash": {"md5": hashlib.md5(data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()},
        })
    packages.append({"name": "tomli-w", "version": "1.0.0", "manager": "pip", "platform": "linux-64",
                     "dependencies": {}, "category": "main", "optional": False,
                     "url": "https://files.pythonhosted.org/packages/tomli_w-1.0.0-py3-none-any.whl",
                     "hash": {"sha256": "0" * 64}})
    lock = {"version": 1, "metadata": {"content_hash": {"linux-64": "x"}, "channels": [
        {"url": f"{url}/standin", "used_env_vars": []}], "platforms": ["linux-64"],
        "sources": ["environment.yml"]}, "package": packages}
    return json.dumps(lock)  # JSON is YAML


def test_probe_says_unreachable_quickly_for_a_closed_port_and_a_silent_server() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    started = time.monotonic()
    assert "did not answer" in probe_channel(f"http://127.0.0.1:{port}/conda-forge", 2.0)
    assert time.monotonic() - started < 2.0
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        started = time.monotonic()
        why = probe_channel(f"http://127.0.0.1:{silent.getsockname()[1]}/c", 0.5)
        assert "did not answer" in why and time.monotonic() - started < 2.0


def test_auto_uses_the_client_when_the_channel_answers_and_pypi_when_not_standin(
    channel_root: Path, tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "environment.yml").write_text("channels: [standin]\ndependencies:\n  - hello\n")
    settings = EnvironmentOptions()
    with serve(channel_root) as (url, _):
        module = CondaModule(CondaOptions(channel_alias=url, kernel_packages=(), cache_dir=str(tmp_path / "c")))
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        env = detect(repo, settings, [module], run_host_work=host_runner(ctx, tmp_path, lambda e: None))
    plan = render(env, settings, ca_bundle=None)
    assert "COPY --chown=1000:1000 .bindery/conda-env/ /srv/conda/" in plan.dockerfile
    assert json.loads(plan.labels["org.bindery.conda"])["mode"] == "conda"
    assert (ctx / "conda-env" / "bin" / "hello").is_file()

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    module = CondaModule(CondaOptions(channel_alias=dead))
    env = detect(repo, settings, [module], run_host_work=host_runner(ctx, tmp_path, lambda e: None))
    report = json.loads(render(env, settings, ca_bundle=None).labels["org.bindery.conda"])
    assert report["mode"] == "fallback" and "unreachable" in report["reason"]
    assert report["mapped"] == [{"conda": "hello", "pypi": "hello"}]


def test_mode_conda_with_an_unreachable_channel_is_a_clear_error(tmp_path: Path) -> None:
    from bindery.environment import RepoConfigError

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "environment.yml").write_text("dependencies: [numpy]\n")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    module = CondaModule(CondaOptions(mode="conda", channel_alias=dead))
    with pytest.raises(RepoConfigError, match=r"environment.yml needs a conda channel.*conda-forge is unreachable"):
        detect(repo, EnvironmentOptions(), [module], run_host_work=host_runner(tmp_path, tmp_path, lambda e: None))


def test_a_solve_that_cannot_succeed_names_the_file(channel_root: Path, tmp_path: Path) -> None:
    with serve(channel_root) as (url, _):
        work = HostWork("conda", _request(url, tmp_path / "cache", specs=["hello >=9"]), "conda-env")
        with pytest.raises(BuildError, match=r"environment.yml: the conda solve failed"):
            run_conda_work(work, tmp_path / "env", tmp_path, lambda e: None)


def test_a_pixi_lock_installs_its_conda_pins_and_hands_back_its_pypi_pins_standin(
    channel_root: Path, tmp_path: Path,
) -> None:
    import asyncio

    import rattler

    with serve(channel_root) as (url, _):
        records = asyncio.run(rattler.solve([rattler.Channel(f"{url}/standin")], ["hello", "hello-lib ==1.0"],
                                            platforms=["linux-64", "noarch"], virtual_packages=[]))
        platform = rattler.LockPlatform("linux-64")
        lock = rattler.LockFile([platform])
        lock.set_channels("default", [rattler.LockChannel(f"{url}/standin")])
        for record in records:
            lock.add_conda_package("default", platform, record)
        lock.add_pypi_package("default", platform, "tomli-w", "1.0.0",
                              "https://files.pythonhosted.org/packages/tomli_w-1.0.0-py3-none-any.whl")
        lock.to_path(tmp_path / "pixi.lock")
        work = HostWork("conda", _request(url, tmp_path / "cache", lock_name="binder/pixi.lock",
                                          lock_text=(tmp_path / "pixi.lock").read_text()), "conda-env")
        result = run_conda_work(work, tmp_path / "env", tmp_path, lambda e: None)
    assert {p["name"]: p["version"] for p in result.data["packages"]} == {"hello": "1.2.3", "hello-lib": "1.0"}
    assert result.data["pip_pins"] == ["tomli-w==1.0.0"]
    assert (tmp_path / "env/share/hello/data.txt").read_text() == "lib 1.0\n"


def test_specs_are_read_as_conda_reads_them_standin(channel_root: Path, tmp_path: Path) -> None:
    """``name 1.0`` (space form, no operator) means exactly 1.0 to conda; rattler's strict
    reader refuses it, so the client reads specs leniently, as conda does."""
    with serve(channel_root) as (url, _):
        work = HostWork("conda", _request(url, tmp_path / "cache", specs=["hello", "hello-lib 1.0"]), "conda-env")
        result = run_conda_work(work, tmp_path / "env", tmp_path, lambda e: None)
    assert {p["name"]: p["version"] for p in result.data["packages"]} == {"hello": "1.2.3", "hello-lib": "1.0"}
