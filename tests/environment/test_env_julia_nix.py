"""The Julia and Nix modules: detection, version choice and rendering (pure).

Julia's and Nix's download servers cannot be reached from here; the real engine shows
the failed-download error in tests/builder/test_build_r_julia.py, and the download
helper itself is tested against a local HTTP stand-in in test_env_image_scripts.py.
"""

from __future__ import annotations

import pytest

from bindery.builder.modules import module_options
from bindery.environment import RepoConfigError, detect, render
from bindery.environment.julia import JuliaModule, JuliaOptions, choose_version
from bindery.environment.nix import NixModule
from bindery.environment.r import RModule
from bindery.environment.repo_files import ConfigFiles

VERSIONS = JuliaOptions().versions


def _env(make_repo, settings, files, *modules):
    return detect(make_repo(files), settings, list(modules))


@pytest.mark.parametrize("compat, expected", [
    ("1.6", "1.11.5"),        # caret by default: [1.6, 2)
    ("^1.8", "1.11.5"),
    ("~1.10", "1.10.9"),      # tilde: [1.10, 1.11)
    ("=1.9.4", "1.9.4"),
    ("1.6, ~1.9", "1.11.5"),  # a comma means "or"
    ("~1.7, ~1.8", "1.8.5"),
    (">= 1.10", "1.11.5"),
    ("1.7 - 1.9", "1.9.4"),
])
def test_compat_picks_the_newest_known_release(compat, expected) -> None:
    assert choose_version(compat, VERSIONS, "Project.toml") == expected


def test_compat_nothing_matches_or_unreadable_names_the_setting() -> None:
    with pytest.raises(RepoConfigError, match=r"allows none.*\[builder.modules.julia\] versions"):
        choose_version("0.7", VERSIONS, "Project.toml")
    with pytest.raises(RepoConfigError, match="not a version specifier"):
        choose_version("latest please", VERSIONS, "Project.toml")


def test_project_toml_renders_julia_ijulia_and_instantiate(make_repo, settings) -> None:
    env = _env(make_repo, settings, {
        "binder/Project.toml": '[deps]\nExample = "7876af07-990d-54b4-ab0e-23690620f79a"\n\n[compat]\njulia = "~1.10"\n',
        "binder/postBuild": "echo hi\n",
    }, JuliaModule())
    plan = render(env, settings, ca_bundle=None)
    d = plan.dockerfile
    url = "https://julialang-s3.julialang.org/bin/linux/x64/1.10/julia-1.10.9-linux-x86_64.tar.gz"
    order = ["uv pip install 'jupyterlab", url, 'installkernel("Julia", "--project=/home/jovyan/binder")',
             "COPY --chown=1000:1000 repo/ ", "Pkg.instantiate()", "postBuild"]
    positions = [d.index(marker) for marker in order]
    assert positions == sorted(positions), d
    assert "--setting '[builder.modules.julia] download_url'" in d
    assert 'JULIA_PROJECT="/home/jovyan/binder"' in d and 'JULIA_DEPOT_PATH="/opt/julia-depot"' in d
    assert plan.labels["org.bindery.julia"] == "1.10.9"
    assert any(s.startswith("Julia 1.10.9 (binder/Project.toml") for s in plan.summary)
    assert "binder/Project.toml: 1 package, instantiated after the repository copy" in "\n".join(plan.summary)
    assert b"def fetch(" in plan.context_files["julia/bindery_fetch.py"]


def test_julia_project_toml_wins_and_a_mirror_is_a_setting(make_repo, settings) -> None:
    options = module_options(JuliaModule, {
        "download_url": "https://mirror.example/julia/{minor}/julia-{version}-linux-{arch}.tar.gz",
        "versions": ["1.9.4", "1.10.2"], "package_server": "https://pkg.mirror.example",
    })
    env = _env(make_repo, settings, {"JuliaProject.toml": "", "Project.toml": '[compat]\njulia="0.1"\n'},
               JuliaModule(options))
    plan = render(env, settings, ca_bundle=None)
    assert "https://mirror.example/julia/1.10/julia-1.10.2-linux-x86_64.tar.gz" in plan.dockerfile
    assert 'JULIA_PKG_SERVER="https://pkg.mirror.example"' in plan.dockerfile
    assert env.contributions[0].sources == ("JuliaProject.toml",)


def test_require_alone_is_refused_like_repo2docker(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="REQUIRE file is no longer supported.*Project.toml"):
        _env(make_repo, settings, {"REQUIRE": "julia 0.6\n"}, JuliaModule())
    env = _env(make_repo, settings, {"REQUIRE": "julia 0.6\n", "Project.toml": ""}, JuliaModule())
    assert any("REQUIRE ignored" in n for n in env.contributions[0].notes)


def test_invalid_project_toml_is_named(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="Project.toml is not valid TOML"):
        _env(make_repo, settings, {"Project.toml": "[deps\n"}, JuliaModule())


def test_default_nix_renders_the_installer_channel_and_wrapper(make_repo, settings) -> None:
    env = _env(make_repo, settings, {"default.nix": "with import <nixpkgs> {}; mkShell {}\n"}, NixModule())
    plan = render(env, settings, ca_bundle=None)
    d = plan.dockerfile
    url = "https://releases.nixos.org/nix/nix-2.13.2/nix-2.13.2-x86_64-linux.tar.xz"
    order = ["uv pip install 'jupyterlab", "sandbox = false", url, "install --no-daemon",
             "COPY --chown=1000:1000 repo/ ", "nix-channel --add https://nixos.org/channels/nixpkgs-unstable",
             "nix-shell /home/jovyan/default.nix --command true"]
    positions = [d.index(marker) for marker in order]
    assert positions == sorted(positions), d
    assert "--sha256 beaec0f2" in d and "[builder.modules.nix] installer_url" in d
    assert "[builder.modules.nix] channel_url" in d
    assert 'BINDERY_START_SCRIPT="/usr/local/bin/bindery-nix-shell"' in d
    assert plan.context_files["nix/bindery-nix-shell"].startswith(b"#!/bin/bash")
    assert 'PATH="/home/jovyan/.nix-profile/bin:$PATH"' in d


def test_nix_mirror_settings(make_repo, settings) -> None:
    options = module_options(NixModule, {
        "installer_url": "https://mirror.example/nix-{version}-{arch}.tar.xz", "version": "2.24.9",
        "installer_sha256": "", "channel_url": "https://mirror.example/nixpkgs",
    })
    env = _env(make_repo, settings, {"default.nix": "{}\n", "start": "#!/bin/bash\nexec \"$@\"\n"},
               NixModule(options))
    plan = render(env, settings, ca_bundle=None)
    assert "https://mirror.example/nix-2.24.9-x86_64.tar.xz" in plan.dockerfile
    assert "--sha256" not in plan.dockerfile
    assert "nix-channel --add https://mirror.example/nixpkgs" in plan.dockerfile
    assert any("start script replaces the nix-shell wrapper" in s for s in plan.summary)


def test_no_julia_or_nix_files_no_contribution(make_repo, settings) -> None:
    env = _env(make_repo, settings, {"requirements.txt": "six\n"}, JuliaModule(), NixModule())
    assert env.contributions == ()


@pytest.mark.parametrize("module", [JuliaModule(), NixModule(), RModule()], ids=["julia", "nix", "r"])
def test_every_claimed_file_that_is_not_text_is_refused_by_name(module, make_repo, settings) -> None:
    for claimed in type(module).claims:
        repo = make_repo({})
        (repo / claimed).write_bytes(b"\xff\xfe\x00 {{{ [[[\n")
        with pytest.raises(RepoConfigError) as err:
            module.detect(ConfigFiles(repo), settings)
        assert claimed in str(err.value)


def test_an_empty_default_nix_is_refused(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="default.nix is empty"):
        _env(make_repo, settings, {"default.nix": "\n"}, NixModule())
