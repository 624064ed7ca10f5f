"""devcontainer.json is repository input: it must not reach the builder host's files,
environment or network, nor pick images on a public builder.

Holes closed while adding it (each checked here): ``${localEnv:...}`` would copy the
builder host's environment into the image; ``build.dockerfile`` / ``build.context``
with ``..`` or a linked ``.devcontainer`` folder would read or send host files; a
remote ``ADD`` in the devcontainer's Dockerfile is refused on public builds like any
repository Dockerfile; ``image`` is allow-listed on public builders; a deeply nested
file cannot exhaust the parser.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from builder.conftest import git, write_files

from bindery.builder import Builder
from bindery.composition import Settings, make_engine
from bindery.environment import RepoConfigError, detect
from bindery.environment.jsonc import load_jsonc
from bindery.errors import BuildError
from bindery.sources import SourceCatalog, resolve

PREFIX = "bindery-test-security"


def _options():
    from bindery.builder.settings import BuilderSettings

    return BuilderSettings(extra_ca_certificates=[]).environment_options()


def _repo(root: Path, files: dict[str, str]) -> Path:
    write_files(root, files)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "devcontainer")
    return root


def _builder(public: bool, **changes: object) -> Builder:
    settings = Settings()
    settings.builder.image_prefix = PREFIX
    for key, value in changes.items():
        setattr(settings.builder, key, value)
    return Builder(settings.builder, make_engine(settings), SourceCatalog(), public=public)


def test_host_environment_is_never_copied_into_the_image(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BINDERY_TEST_HOST_SECRET", "host-secret-value")
    config = {"image": "x/y:1", "containerEnv": {"A": "${localEnv:BINDERY_TEST_HOST_SECRET}"},
              "build": None, "postCreateCommand": "echo ${localEnv:BINDERY_TEST_HOST_SECRET}"}
    del config["build"]
    root = tmp_path / "r"
    write_files(root, {".devcontainer.json": json.dumps(config)})
    env = detect(root, _options())
    assert "host-secret-value" not in (env.dockerfile_text or "")
    assert os.environ["BINDERY_TEST_HOST_SECRET"] == "host-secret-value"


@pytest.mark.parametrize("build", [
    {"dockerfile": "../../etc/passwd"},
    {"dockerfile": "/etc/passwd"},
    {"dockerfile": "Dockerfile", "context": "../.."},
    {"dockerfile": "Dockerfile", "context": "/"},
])
def test_paths_outside_the_repository_are_refused(tmp_path, build) -> None:
    root = tmp_path / "r"
    write_files(root, {".devcontainer/devcontainer.json": json.dumps({"build": build}),
                       ".devcontainer/Dockerfile": "FROM x\n"})
    with pytest.raises(RepoConfigError, match="outside the repository|is absolute"):
        detect(root, _options())


def test_a_linked_dockerfile_outside_the_repository_is_refused(tmp_path) -> None:
    root = tmp_path / "r"
    write_files(root, {".devcontainer/devcontainer.json": json.dumps({"build": {"dockerfile": "D"}})})
    (root / ".devcontainer" / "D").symlink_to("/etc/passwd")
    with pytest.raises(RepoConfigError, match="pointing outside the repository"):
        detect(root, _options())


def test_deep_nesting_is_refused_without_exhausting_the_parser() -> None:
    with pytest.raises(RepoConfigError, match="nested more than"):
        load_jsonc("[" * 100_000 + "]" * 100_000, "devcontainer.json")


@pytest.mark.engine
def test_a_linked_context_folder_cannot_send_host_files(tmp_path) -> None:
    outside = tmp_path / "outside"
    write_files(outside, {"Dockerfile": "FROM bindery/base:bookworm\n", "host-file": "host\n"})
    root = tmp_path / "r"
    write_files(root, {".devcontainer.json": json.dumps(
        {"build": {"dockerfile": "ctx/Dockerfile", "context": "ctx"}})})
    (root / "ctx").symlink_to(outside)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "linked")
    builder = _builder(public=False)
    with pytest.raises((BuildError, RepoConfigError), match="outside the repository|not a directory inside"):
        builder.build(resolve(str(root)))


@pytest.mark.engine
def test_public_build_refuses_remote_add_in_a_devcontainer_dockerfile(tmp_path) -> None:
    root = _repo(tmp_path / "r", {
        ".devcontainer/devcontainer.json": json.dumps({"build": {"dockerfile": "Dockerfile"}}),
        ".devcontainer/Dockerfile": "FROM bindery/base:bookworm\nADD http://127.0.0.1:9/x /x\n"})
    with pytest.raises(BuildError, match="asks the container engine to download files itself"):
        _builder(public=True).build(resolve(str(root)))


@pytest.mark.engine
def test_public_build_accepts_only_allow_listed_images(tmp_path) -> None:
    root = _repo(tmp_path / "r", {".devcontainer.json": json.dumps({"image": "bindery/base:bookworm"})})
    with pytest.raises(BuildError, match=r"does not allow \(builder.devcontainer_images: none are\)"):
        _builder(public=True).build(resolve(str(root)))
    missing = _repo(tmp_path / "m", {".devcontainer.json": json.dumps(
        {"image": "mcr.microsoft.com/devcontainers/python:3"})})
    with pytest.raises(BuildError, match="mcr.microsoft.com/devcontainers/python:3, which is not "
                                         "on this machine"):
        _builder(public=True, devcontainer_images=["mcr.microsoft.com/devcontainers/*"]).build(
            resolve(str(missing)))
