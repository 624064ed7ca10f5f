"""runtime.txt, requirements.txt and the repository installed as a package."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bindery.environment import RepoConfigError, detect, render


@pytest.mark.parametrize(
    "line, expected",
    [
        ("python-3.13", "3.13"),
        ("python-3.11", "3.11"),
        ("python-3.11.4", "3.11"),
        ("  python-3.13  \r\n", "3.13"),
        ("python-3", "3.15"),
        ("python-3.9", "3.9"),
        ("python-3.14", "3.14"),
    ],
)
def test_runtime_txt_selects_version_and_base_image(make_repo, settings, line, expected) -> None:
    env = detect(make_repo({"runtime.txt": line}), settings)
    assert env.python_version == expected
    plan = render(env, settings, ca_bundle=None)
    assert plan.python_version == expected
    assert plan.base_image == settings.base_images[expected]
    assert plan.dockerfile.startswith(f"FROM {settings.base_images[expected]}\n")
    assert plan.summary[0] == f"Python {expected} (runtime.txt)"


def test_no_runtime_txt_uses_default_python(make_repo, settings) -> None:
    plan = render(
        detect(make_repo({"requirements.txt": "six\n"}), settings), settings, ca_bundle=None
    )
    assert plan.python_version == settings.default_python == "3.11"
    assert plan.summary[0] == "Python 3.11 (default)"


def test_unavailable_python_under_exact_policy_lists_the_available_ones(make_repo, settings) -> None:
    exact = replace(settings, python_policy="exact")
    with pytest.raises(RepoConfigError) as err:
        detect(make_repo({"runtime.txt": "python-3.7\n"}), exact)
    message = str(err.value)
    assert "3.7" in message and "python-3.11" in message and "python-3.13" in message
    assert "python_policy" in message


@pytest.mark.parametrize("line", ["python3.11", "3.11", "python-three", "python-3.11; rm -rf /"])
def test_malformed_runtime_txt_is_a_clear_error(make_repo, settings, line) -> None:
    with pytest.raises(RepoConfigError, match="python-X.Y"):
        detect(make_repo({"runtime.txt": line + "\n"}), settings)


def test_an_r_runtime_leaves_python_at_the_default(make_repo, settings) -> None:
    # runtime.txt `r-...` belongs to the R module (tests/environment/test_env_r.py).
    env = detect(make_repo({"runtime.txt": "r-4.3-2024-01-01\n"}), settings)
    assert env.python_version == settings.default_python and env.python_source == "default"


def test_empty_runtime_txt_is_an_error(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="empty"):
        detect(make_repo({"runtime.txt": "\n\n"}), settings)


def test_binder_runtime_txt_wins_over_root(make_repo, settings) -> None:
    env = detect(
        make_repo({"runtime.txt": "python-3.7\n", "binder/runtime.txt": "python-3.13\n"}), settings
    )
    assert env.python_version == "3.13"


def test_plain_requirements_are_installed_before_the_repo_copy(plan_for) -> None:
    plan = plan_for(
        {
            "requirements.txt": "six==1.16.0\nidna>=3  # comment\n--index-url https://pypi.org/simple\n"
        }
    )
    text = plan.dockerfile
    dep_copy = text.index(
        "COPY --chown=1000:1000 repo/requirements.txt /tmp/bindery-deps/requirements.txt"
    )
    dep_install = text.index("uv pip install -r /tmp/bindery-deps/requirements.txt")
    repo_copy = text.index("COPY --chown=1000:1000 repo/ /home/jovyan/")
    assert dep_copy < dep_install < repo_copy
    assert any(line.startswith("requirements.txt: 2 requirements, cached") for line in plan.summary)


@pytest.mark.parametrize(
    "line",
    [
        "-e .",
        ".",
        "./pkg",
        "-r other.txt",
        "--requirement=other.txt",
        "-c constraints.txt",
        "file:///home/jovyan/pkg",
        "mypkg @ file:///home/jovyan/mypkg",
        "pkgs/mylib",
        "dist/mylib-1.0-py3-none-any.whl",
        "-f ./wheels",
        "--editable ./lib",
    ],
)
def test_requirements_referring_to_repo_files_install_after_the_copy(plan_for, line) -> None:
    plan = plan_for({"requirements.txt": f"six\n{line}\n"})
    text = plan.dockerfile
    assert "/tmp/bindery-deps" not in text
    repo_copy = text.index("COPY --chown=1000:1000 repo/ /home/jovyan/")
    assert text.index("uv pip install -r requirements.txt") > repo_copy
    assert any("after the repository copy" in line for line in plan.summary)


@pytest.mark.parametrize(
    "line",
    [
        "requests[socks]>=2",
        "git+https://example.org/x.git#egg=x",
        "-e git+https://example.org/x.git#egg=x",
        "pkg @ https://example.org/pkg-1.0.tar.gz",
        "--extra-index-url https://example.org/simple",
        "numpy ; python_version >= '3.9'",
        "--hash=sha256:abcd",
    ],
)
def test_remote_requirements_stay_cacheable(plan_for, line) -> None:
    plan = plan_for({"requirements.txt": f"{line}\n"})
    assert "COPY --chown=1000:1000 repo/requirements.txt /tmp/bindery-deps/" in plan.dockerfile


def test_binder_requirements_with_local_refs_install_from_repo_root(plan_for) -> None:
    plan = plan_for({"binder/requirements.txt": "-r ../requirements-base.txt\n"})
    assert "uv pip install -r binder/requirements.txt" in plan.dockerfile


def test_setup_py_installs_the_repo_as_a_package_after_the_copy(plan_for) -> None:
    plan = plan_for({"setup.py": "from setuptools import setup\nsetup(name='x')\n"})
    text = plan.dockerfile
    assert text.index("uv pip install -e .") > text.index(
        "COPY --chown=1000:1000 repo/ /home/jovyan/"
    )
    assert any(line.startswith("setup.py: the repository is installed") for line in plan.summary)


@pytest.mark.parametrize(
    "pyproject",
    [
        "[project]\nname = 'x'\nversion = '1'\n",
        "[build-system]\nrequires = ['hatchling']\nbuild-backend = 'hatchling.build'\n",
    ],
)
def test_pyproject_with_project_or_build_system_is_installed(plan_for, pyproject) -> None:
    assert "uv pip install -e ." in plan_for({"pyproject.toml": pyproject}).dockerfile


def test_pyproject_with_only_tool_config_is_not_installed(plan_for) -> None:
    assert (
        "uv pip install -e ."
        not in plan_for({"pyproject.toml": "[tool.black]\nline-length = 100\n"}).dockerfile
    )


def test_invalid_pyproject_is_a_clear_error(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="pyproject.toml is not valid TOML"):
        detect(make_repo({"pyproject.toml": "[project\nname="}), settings)


def test_package_not_installed_when_binder_dir_exists(plan_for) -> None:
    plan = plan_for(
        {
            "setup.py": "from setuptools import setup\nsetup()\n",
            "pyproject.toml": "[project]\nname='x'\nversion='1'\n",
            "binder/requirements.txt": "six\n",
        }
    )
    assert "uv pip install -e ." not in plan.dockerfile


def test_environment_yml_alone_is_not_supported_yet(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="conda is not supported yet") as err:
        detect(make_repo({"environment.yml": "dependencies:\n  - numpy\n"}), settings)
    assert "requirements.txt" in str(err.value)  # says what to do instead


def test_environment_yml_with_requirements_uses_requirements_and_says_so(plan_for) -> None:
    plan = plan_for({"environment.yml": "dependencies: [numpy]\n", "requirements.txt": "numpy\n"})
    assert "uv pip install -r /tmp/bindery-deps/requirements.txt" in plan.dockerfile
    assert any("environment.yml ignored" in line for line in plan.summary)


def test_undecodable_requirements_is_a_clear_error(make_repo, settings) -> None:
    repo = make_repo({})
    (repo / "requirements.txt").write_bytes(b"six\n\xff\xfe\n")
    with pytest.raises(RepoConfigError, match="not UTF-8"):
        detect(repo, settings)
