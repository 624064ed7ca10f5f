"""Pipfile.lock (preferred) and Pipfile converted to a requirements file in the build context."""

from __future__ import annotations

import json

import pytest

from bindery.environment import RepoConfigError, detect

LOCK = {
    "_meta": {
        "requires": {"python_version": "3.13"},
        "sources": [{"name": "pypi", "url": "https://pypi.org/simple", "verify_ssl": True}],
    },
    "default": {
        "six": {"hashes": ["sha256:aa"], "version": "==1.16.0"},
        "colorama": {"version": "==0.4.6", "markers": "sys_platform == 'win32'"},
        "requests": {"version": "==2.32.3", "extras": ["socks"]},
    },
    "develop": {"pytest": {"version": "==8.3.2"}},
}

PIPFILE = """\
[[source]]
url = "https://pypi.org/simple"
name = "pypi"

[packages]
six = "*"
idna = ">=3.7"
requests = {version = "==2.32.3", extras = ["socks"]}
pywin32 = {version = "*", sys_platform = "== 'win32'"}
attrs = "23.2.0"

[dev-packages]
pytest = "*"

[requires]
python_version = "3.11"
"""


def _generated(plan) -> str:
    return plan.context_files["pipfile-requirements.txt"].decode()


def test_pipfile_lock_becomes_pinned_requirements_with_markers(plan_for) -> None:
    plan = plan_for({"Pipfile.lock": json.dumps(LOCK), "Pipfile": PIPFILE})
    lines = _generated(plan).splitlines()
    assert "six==1.16.0" in lines
    assert "colorama==0.4.6 ; sys_platform == 'win32'" in lines
    assert "requests[socks]==2.32.3" in lines
    assert "pytest==8.3.2" in lines  # dev packages too, as repo2docker's pipenv --dev
    assert (
        "COPY --chown=1000:1000 .bindery/pipfile-requirements.txt /tmp/bindery-deps/"
        in plan.dockerfile
    )
    assert "uv pip install -r /tmp/bindery-deps/pipfile-requirements.txt" in plan.dockerfile
    assert any(line.startswith("Pipfile.lock: 4 requirements") for line in plan.summary)


def test_pipfile_lock_python_version_used_without_runtime_txt(make_repo, settings) -> None:
    env = detect(make_repo({"Pipfile.lock": json.dumps(LOCK)}), settings)
    assert env.python_version == "3.13" and env.python_source == "Pipfile.lock"


def test_runtime_txt_wins_over_pipfile_python_version(make_repo, settings) -> None:
    env = detect(
        make_repo({"Pipfile.lock": json.dumps(LOCK), "runtime.txt": "python-3.11\n"}), settings
    )
    assert env.python_version == "3.11"


def test_pipfile_asking_for_unavailable_python_falls_back_and_says_so(plan_for) -> None:
    plan = plan_for(
        {"Pipfile": PIPFILE.replace('python_version = "3.11"', 'python_version = "3.8"')}
    )
    assert plan.python_version == "3.9"  # the nearest newer Debian Python (bullseye)
    assert any("Python 3.8" in line and "nearest newer" in line for line in plan.summary)
    assert plan.warnings and "Python 3.8" in plan.warnings[0]


def test_pipfile_converts_specs_star_and_tables(plan_for) -> None:
    lines = _generated(plan_for({"Pipfile": PIPFILE})).splitlines()
    assert "six" in lines
    assert "idna>=3.7" in lines
    assert "requests[socks]==2.32.3" in lines
    assert "pywin32 ; sys_platform == 'win32'" in lines
    assert "attrs==23.2.0" in lines
    assert "pytest" in lines


def test_pipfile_lock_preferred_and_requirements_txt_ignored_with_note(plan_for) -> None:
    plan = plan_for(
        {"Pipfile.lock": json.dumps(LOCK), "Pipfile": PIPFILE, "requirements.txt": "flask\n"}
    )
    assert "six==1.16.0" in _generated(plan)
    assert "repo/requirements.txt" not in plan.dockerfile
    assert any("requirements.txt ignored" in line for line in plan.summary)


def test_pipfile_local_path_installs_after_repo_copy(plan_for) -> None:
    plan = plan_for({"Pipfile": '[packages]\nmylib = {path = ".", editable = true}\nsix = "*"\n'})
    assert "-e ." in _generated(plan).splitlines()
    text = plan.dockerfile
    assert text.index("uv pip install -r /tmp/bindery-deps/pipfile-requirements.txt") > text.index(
        "COPY --chown=1000:1000 repo/ /home/jovyan/"
    )


def test_pipfile_in_binder_dir_paths_are_relative_to_it(plan_for) -> None:
    plan = plan_for({"binder/Pipfile": '[packages]\nmylib = {path = "../lib"}\n'})
    assert "./lib" in _generated(plan).splitlines()


def test_pipfile_git_dependency(plan_for) -> None:
    plan = plan_for(
        {"Pipfile": '[packages]\nx = {git = "https://example.org/x.git", ref = "v1"}\n'}
    )
    assert "x @ git+https://example.org/x.git@v1" in _generated(plan).splitlines()


def test_invalid_pipfile_lock_json_is_a_clear_error(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="Pipfile.lock is not valid JSON"):
        detect(make_repo({"Pipfile.lock": "{not json"}), settings)


def test_invalid_pipfile_toml_is_a_clear_error(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="Pipfile is not valid TOML"):
        detect(make_repo({"Pipfile": "[packages\nsix = "}), settings)


def test_pipfile_entry_of_wrong_type_is_a_clear_error(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="'six'"):
        detect(make_repo({"Pipfile": "[packages]\nsix = 3\n"}), settings)


def test_pipfile_path_outside_repo_is_refused(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="outside the repository"):
        detect(make_repo({"Pipfile": '[packages]\nx = {path = "../../etc"}\n'}), settings)


def test_pipfile_extra_sources_become_extra_index_urls(plan_for) -> None:
    pipfile = (
        '[[source]]\nurl = "https://pypi.org/simple"\nname = "pypi"\n\n'
        '[[source]]\nurl = "https://pkgs.example.org/simple"\nname = "corp"\n\n'
        '[packages]\nsix = "*"\n'
    )
    lines = _generated(plan_for({"Pipfile": pipfile})).splitlines()
    assert "--extra-index-url https://pkgs.example.org/simple" in lines
    assert not any("pypi.org" in line for line in lines)
