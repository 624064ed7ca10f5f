"""Which files configure the environment: binder/ and .binder/ over the root; Dockerfile as is."""

from __future__ import annotations

import os

import pytest

from bindery.environment import RepoConfigError, detect, render
from bindery.errors import BinderyError


def test_binder_dir_hides_root_config_files(make_repo, settings) -> None:
    repo = make_repo(
        {
            "requirements.txt": "flask\n",
            "apt.txt": "jq\n",
            "binder/requirements.txt": "six\n",
        }
    )
    env = detect(repo, settings)
    assert env.config_dir == "binder"
    assert env.requirements is not None and env.requirements.repo_path == "binder/requirements.txt"
    assert env.apt_packages == ()
    plan = render(env, settings, ca_bundle=None)
    assert "COPY --chown=1000:1000 repo/binder/requirements.txt" in plan.dockerfile
    assert "jq" not in plan.dockerfile
    # The person sees which root files were ignored and why.
    assert any("requirements.txt" in line and "ignored" in line for line in plan.summary)


def test_dot_binder_dir_is_used_like_binder(make_repo, settings) -> None:
    env = detect(make_repo({".binder/apt.txt": "jq\n", "apt.txt": "curl\n"}), settings)
    assert env.config_dir == ".binder"
    assert env.apt_packages == ("jq",)


def test_binder_and_dot_binder_together_is_an_error(make_repo, settings) -> None:
    repo = make_repo({"binder/apt.txt": "jq\n", ".binder/apt.txt": "curl\n"})
    with pytest.raises(RepoConfigError, match=r"both a binder/ and a \.binder/"):
        detect(repo, settings)


def test_repo_config_error_is_a_bindery_error_shown_to_users(make_repo, settings) -> None:
    repo = make_repo({"binder/x": "", ".binder/x": ""})
    with pytest.raises(BinderyError):
        detect(repo, settings)


def test_binder_dockerfile_is_used_as_given(make_repo, settings) -> None:
    text = "FROM bindery/base:bookworm\nRUN echo hi > /marker\n"
    repo = make_repo(
        {
            "binder/Dockerfile": text,
            "binder/requirements.txt": "six\n",
            "Dockerfile": "FROM somewhere-else\n",
        }
    )
    plan = render(detect(repo, settings), settings, ca_bundle=b"ca")
    assert plan.uses_repo_dockerfile
    assert plan.dockerfile == text
    assert plan.context_files == {}
    assert plan.base_image == "bindery/base:bookworm"
    assert "binder/Dockerfile" in plan.summary[0]


def test_root_dockerfile_used_when_there_is_no_binder_dir(make_repo, settings) -> None:
    repo = make_repo({"Dockerfile": "FROM bindery/base:trixie\n", "requirements.txt": "six\n"})
    plan = render(detect(repo, settings), settings, ca_bundle=None)
    assert plan.uses_repo_dockerfile and plan.dockerfile == "FROM bindery/base:trixie\n"


def test_root_dockerfile_ignored_when_binder_dir_exists(make_repo, settings) -> None:
    repo = make_repo({"Dockerfile": "FROM x\n", "binder/requirements.txt": "six\n"})
    plan = render(detect(repo, settings), settings, ca_bundle=None)
    assert not plan.uses_repo_dockerfile
    assert "FROM x" not in plan.dockerfile


def test_dockerfile_without_from_is_a_clear_error(make_repo, settings) -> None:
    repo = make_repo({"Dockerfile": "RUN echo no base\n"})
    with pytest.raises(RepoConfigError, match="no FROM line"):
        render(detect(repo, settings), settings, ca_bundle=None)


def test_config_file_symlinked_outside_the_repo_is_refused(make_repo, settings, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0\n")
    repo = make_repo({})
    os.symlink(secret, repo / "apt.txt")
    with pytest.raises(RepoConfigError, match="outside the repository") as err:
        detect(repo, settings)
    assert "root:x" not in str(err.value)


def test_missing_checkout_is_a_clear_error(tmp_path, settings) -> None:
    with pytest.raises(RepoConfigError, match="not a directory"):
        detect(tmp_path / "nope", settings)


def test_binder_dir_symlinked_outside_the_repo_is_refused(make_repo, settings, tmp_path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "apt.txt").write_text("jq\n")
    repo = make_repo({})
    os.symlink(outside, repo / "binder")
    with pytest.raises(RepoConfigError, match="outside the repository"):
        detect(repo, settings)
