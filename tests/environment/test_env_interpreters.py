"""Which Python a repository asks for, and which one it gets (pure: no engine)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bindery.environment import RepoConfigError, detect, render
from bindery.environment.interpreters import (
    PythonRequest,
    choose,
    conda_python_request,
    minor_satisfies,
)

PIPFILE_36 = '[packages]\nsix = "*"\n\n[requires]\npython_version = "3.6"\n'


@pytest.mark.parametrize("version, base", [
    ("3.9", "bindery/base:bullseye"), ("3.11", "bindery/base:bookworm"),
    ("3.13", "bindery/base:trixie"), ("3.14", "bindery/base:sid"), ("3.15", "bindery/base:sid"),
])
def test_debian_pythons_by_release(plan_for, version, base) -> None:
    plan = plan_for({"runtime.txt": f"python-{version}\n"})
    assert plan.base_image == base and plan.python_version == version
    assert f"--no-install-recommends python{version} python{version}-venv " in plan.dockerfile
    assert f"/usr/bin/python{version}" in plan.dockerfile
    assert not plan.warnings
    assert plan.labels["org.bindery.python-requested"] == version
    assert plan.labels["org.bindery.python-provider"] == "debian"


@pytest.mark.parametrize("asked, given", [("3.10", "3.11"), ("3.12", "3.13"), ("3.8", "3.9"),
                                           ("3.6", "3.9"), ("3.16", "3.15")])
def test_nearest_policy_takes_the_nearest_newer_minor_and_warns(plan_for, asked, given) -> None:
    plan = plan_for({"runtime.txt": f"python-{asked}\n"})
    assert plan.python_version == given
    (warning,) = plan.warnings
    assert f"asks for Python {asked}" in warning and f"using Python {given}" in warning
    assert plan.summary[0] == f"Python {given} (runtime.txt asks for {asked})"
    assert f"WARNING: {warning}" in plan.summary
    assert plan.labels["org.bindery.python-requested"] == asked
    assert plan.labels["org.bindery.python-warning"] == warning
    if asked == "3.16":
        assert "none is newer" in warning


def test_exact_policy_refuses_with_the_choices(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError) as err:
        detect(make_repo({"runtime.txt": "python-3.10\n"}), replace(settings, python_policy="exact"))
    text = str(err.value)
    assert "runtime.txt asks for Python 3.10" in text
    assert "python-3.9, python-3.11, python-3.13, python-3.14, python-3.15" in text


def test_python_2_is_never_substituted(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="no policy changes a major version"):
        detect(make_repo({"runtime.txt": "python-2.7\n"}), settings)


def test_unknown_policy_is_an_error(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="python_policy"):
        detect(make_repo({}), replace(settings, python_policy="closest"))


def test_pipfile_lock_for_36_gets_the_nearest_newer_and_says_so(plan_for) -> None:
    plan = plan_for({"Pipfile": PIPFILE_36})
    assert plan.python_version == "3.9"
    assert "Pipfile asks for Python 3.6" in plan.warnings[0]


def test_pipfile_python_version_must_be_a_version(make_repo, settings) -> None:
    bad = PIPFILE_36.replace('"3.6"', '"3.6\\nRUN curl evil"')
    with pytest.raises(RepoConfigError, match="is not a version"):
        detect(make_repo({"Pipfile": bad}), settings)


def test_runtime_txt_wins_over_pipfile_and_pyproject(plan_for) -> None:
    plan = plan_for({"runtime.txt": "python-3.13\n", "Pipfile": PIPFILE_36,
                     "pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.14"\n'})
    assert plan.python_version == "3.13" and plan.summary[0] == "Python 3.13 (runtime.txt)"


@pytest.mark.parametrize("spec, given", [
    (">=3.9", "3.11"),            # the default satisfies it
    (">=3.12", "3.13"),           # the lowest newer one that does
    ("<3.11", "3.9"),
    ("~=3.14.0", "3.14"),
    ("==3.13.*", "3.13"),
    (">=3.10,<3.12", "3.11"),
])
def test_requires_python_picks_a_satisfying_python(plan_for, spec, given) -> None:
    plan = plan_for({"pyproject.toml": f'[project]\nname = "x"\nrequires-python = "{spec}"\n'})
    assert plan.python_version == given, spec
    assert not plan.warnings
    assert plan.labels["org.bindery.python-requested"] == spec
    assert plan.labels["org.bindery.python-source"] == "pyproject.toml"


def test_requires_python_nobody_satisfies_is_nearest_with_a_warning(plan_for) -> None:
    plan = plan_for({"pyproject.toml": '[project]\nname = "x"\nrequires-python = "==3.10.*"\n'})
    assert plan.python_version == "3.11"
    assert "asks for Python ==3.10.*" in plan.warnings[0]


def test_malformed_requires_python_is_a_clear_error(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="pyproject.toml requires-python"):
        detect(make_repo({"pyproject.toml": '[project]\nrequires-python = "python 3"\n'}), settings)


@pytest.mark.parametrize("text, version, specifier", [
    ("dependencies:\n  - python=3.10\n  - numpy\n", "3.10", None),
    ("dependencies:\n  - numpy\n  - python==3.12.4\n", "3.12", None),
    ("dependencies:\n  - python 3.8.*\n", "3.8", None),
    ("dependencies:\n  - 'python>=3.9'\n", None, ">=3.9"),
    ("dependencies:\n  - python-dateutil\n  - python\n", None, None),
])
def test_conda_python_pin(text, version, specifier) -> None:
    found = conda_python_request(text, "environment.yml")
    if version is None and specifier is None:
        assert found is None
    else:
        assert found == PythonRequest("environment.yml", version=version, specifier=specifier)


def test_environment_yml_python_pin_is_a_request(make_repo, settings) -> None:
    repo = make_repo({"environment.yml": "dependencies:\n  - python=3.13\n",
                      "requirements.txt": "six\n"})
    env = detect(repo, settings)
    assert env.python_version == "3.13" and env.python_source == "environment.yml"


def test_specifier_evaluation_per_minor() -> None:
    assert minor_satisfies(">3.10", "3.10")      # 3.10.1 is > 3.10
    assert not minor_satisfies(">=3.11", "3.10")
    assert minor_satisfies("!=3.10.2", "3.10")
    assert not minor_satisfies("<3.9", "3.9")


# -- uv-managed CPython from a mirror --------------------------------------------

MIRROR = "http://127.0.0.1:9/python-build-standalone"


def test_a_configured_mirror_offers_any_cpython_and_renders_uv_python_install(plan_for_with) -> None:
    plan = plan_for_with({"runtime.txt": "python-3.10\n"}, python_install_mirror=MIRROR)
    assert plan.python_version == "3.10" and not plan.warnings
    assert plan.base_image == "bindery/base:bookworm"  # the default Python's release
    text = plan.dockerfile
    assert f"UV_PYTHON_INSTALL_MIRROR={MIRROR} UV_PYTHON_INSTALL_DIR=/opt/bindery-python uv python install 3.10" in text
    assert "--managed-python --python 3.10 /srv/venv" in text
    assert "python3.10-venv" not in text and "install -d -o 1000 -g 1000 /opt/bindery-python" in text
    assert plan.labels["org.bindery.python-provider"] == "uv-managed"
    assert any("CPython installed by uv from " + MIRROR in line for line in plan.summary)


def test_debian_python_is_preferred_to_a_download(plan_for_with) -> None:
    plan = plan_for_with({"runtime.txt": "python-3.13\n"}, python_install_mirror=MIRROR)
    assert plan.base_image == "bindery/base:trixie" and "uv python install" not in plan.dockerfile


def test_a_mirror_that_does_not_answer_is_named_in_the_warning_and_the_error(make_repo, settings) -> None:
    down = replace(settings, python_install_mirror=MIRROR,
                   python_mirror_problem="does not answer ([Errno 111] Connection refused)")
    env = detect(make_repo({"runtime.txt": "python-3.12\n"}), down)
    assert env.python_version == "3.13" and not env.python_managed
    assert "uv-managed Pythons are unavailable" in (env.python_warning or "")
    assert "Connection refused" in (env.python_warning or "")
    with pytest.raises(RepoConfigError, match="Connection refused"):
        detect(make_repo({"runtime.txt": "python-3.12\n"}), replace(down, python_policy="exact"))


def test_choose_without_request_is_the_default(settings) -> None:
    choice = choose(None, settings)
    assert choice.version == "3.11" and choice.origin == "default" and choice.warning is None


def test_rendering_without_bundled_uv_bootstraps_uv_for_managed_pythons(make_repo, settings) -> None:
    options = replace(settings, python_install_mirror=MIRROR)
    env = detect(make_repo({"runtime.txt": "python-3.8\n"}), options)
    text = render(env, options, ca_bundle=None, bundled_uv=False).dockerfile
    assert "python3 -m venv /opt/bindery-uv" in text and "python3 python3-venv" in text
    assert "uv python install 3.8" in text


def test_stale_mirror_option_relaxes_only_valid_until(plan_for_with) -> None:
    plain = plan_for_with({"runtime.txt": "python-3.14\n", "apt.txt": "jq\n"})
    assert "Check-Valid-Until" not in plain.dockerfile
    relaxed = plan_for_with({"runtime.txt": "python-3.14\n", "apt.txt": "jq\n"},
                            apt_ignore_valid_until=True).dockerfile
    assert relaxed.count("apt-get update -q -o Acquire::Check-Valid-Until=false") == 2
