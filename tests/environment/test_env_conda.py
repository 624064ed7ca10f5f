"""The conda module, pure: environment.yml reading, the PyPI mapping, modes, rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bindery.environment import EnvironmentOptions, RepoConfigError, detect, render
from bindery.environment.conda import CondaModule, CondaOptions
from bindery.environment.conda_file import parse_environment_file, parse_spec
from bindery.environment.conda_pypi import conda_version_to_pep440, plan_fallback
from bindery.environment.modules import HostResult, HostWork
from bindery.environment.repo_files import ConfigFiles

SETTINGS = EnvironmentOptions()


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def _report(env_plan_labels: dict[str, str]) -> dict[str, object]:
    return json.loads(env_plan_labels["org.bindery.conda"])


@pytest.mark.parametrize(("spec", "name", "version", "build", "channel"), [
    ("numpy", "numpy", "", "", ""),
    ("numpy=1.26", "numpy", "=1.26", "", ""),
    ("numpy==1.26.4", "numpy", "==1.26.4", "", ""),
    ("numpy>=1.20,<2", "numpy", ">=1.20,<2", "", ""),
    ("numpy >=1.20", "numpy", ">=1.20", "", ""),
    ("numpy 1.26.*", "numpy", "1.26.*", "", ""),
    ("numpy=1.26.4=py311h64a7726_0", "numpy", "=1.26.4", "py311h64a7726_0", ""),
    ("conda-forge::numpy=1.26", "numpy", "=1.26", "", "conda-forge"),
    ("numpy[version='>=1.20']", "numpy", ">=1.20", "", ""),
    ("ruamel.yaml", "ruamel.yaml", "", "", ""),
])
def test_conda_specs_are_read(spec: str, name: str, version: str, build: str, channel: str) -> None:
    parsed = parse_spec(spec, "environment.yml")
    assert (parsed.name, parsed.version, parsed.build, parsed.channel) == (name, version, build, channel)


@pytest.mark.parametrize(("conda", "pep440"), [
    ("", ""),
    ("=1.26", "==1.26.*"),
    ("=1.26.4", "==1.26.4.*"),
    ("==1.26.4", "==1.26.4"),
    ("1.26.*", "==1.26.*"),
    ("1.26*", "==1.26.*"),
    ("1.26", "==1.26"),
    (">=1.20,<2", ">=1.20,<2"),
    (">=1.2*", ">=1.2"),
    ("!=1.3", "!=1.3"),
])
def test_conda_versions_become_pep440(conda: str, pep440: str) -> None:
    assert conda_version_to_pep440(conda) == (pep440, "")


def test_an_or_version_becomes_any_version_with_a_note() -> None:
    spec, note = conda_version_to_pep440("1.2|1.4")
    assert spec == "" and "'|'" in note


def test_the_well_known_renames_and_drops() -> None:
    env = parse_environment_file(
        "dependencies: [matplotlib-base, pytables, py-opencv, pytorch, scikit-learn, "
        "python-graphviz, python=3.10, pip, nodejs, r-ggplot2, cudatoolkit, _openmp_mutex, "
        "graphviz, c-compiler, {pip: [requests]}]\n", "environment.yml")
    plan = plan_fallback(env)
    assert plan.requirements == ("matplotlib", "tables", "opencv-python", "torch", "scikit-learn",
                                 "graphviz", "requests")
    dropped = {d["conda"]: d["why"] for d in plan.dropped}
    assert set(dropped) == {"python=3.10", "pip", "nodejs", "r-ggplot2", "cudatoolkit",
                            "_openmp_mutex", "graphviz", "c-compiler"}
    assert "R package" in dropped["r-ggplot2"] and "apt.txt" in dropped["graphviz"]
    assert "Node.js" in dropped["nodejs"]
    assert env.python_version == "3.10"


@pytest.mark.parametrize(("text", "message"), [
    ("dependencies: [numpy\n", r"environment.yml is not valid YAML \(line"),
    ("- numpy\n", "environment.yml must be a mapping"),
    ("dependencies: [numpy]\nchannel: [x]\n", r"environment.yml: unknown key\(s\) channel"),
    ("dependencies:\n  - conda: [x]\n", "environment.yml: dependency 1 is a mapping with conda"),
    ("dependencies: ['numpy=={{x}}']\n", "environment.yml: dependency 1: 'numpy=={{x}}'"),
    ("variables: {1bad: x}\n", "environment.yml: variables: '1bad'"),
])
def test_bad_environment_files_name_the_file_and_the_fault(tmp_path: Path, text: str, message: str) -> None:
    repo = _repo(tmp_path, {"environment.yml": text})
    with pytest.raises(RepoConfigError, match=message):
        detect(repo, SETTINGS, [CondaModule()])


def test_two_environment_files_are_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"environment.yml": "dependencies: []\n", "environment.yaml": "dependencies: []\n"})
    with pytest.raises(RepoConfigError, match="both environment.yml and environment.yaml"):
        detect(repo, SETTINGS, [CondaModule()])


def test_fallback_plan_in_the_image_replaces_requirements_and_asks_for_python(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {
        "binder/environment.yml": "dependencies: [python=3.13, numpy=1.26, {pip: [tomli-w]}]\n"
                                  "variables: {MPLBACKEND: Agg}\n",
        "binder/requirements.txt": "pyfiglet\n",
        "environment.yml": "dependencies: [ignored]\n",
    })
    module = CondaModule(CondaOptions(mode="fallback"))
    assert module.host_work(ConfigFiles(repo), SETTINGS) is None
    env = detect(repo, SETTINGS, [module])
    assert env.python_version == "3.13" and env.python_source == "binder/environment.yml"
    assert env.requirements is None
    plan = render(env, SETTINGS, ca_bundle=None)
    assert plan.context_files["conda-fallback-requirements.txt"] == b"numpy==1.26.*\ntomli-w\n"
    d = plan.dockerfile
    assert d.index("uv pip install -r /tmp/bindery-deps/conda-fallback-requirements.txt") < d.index("COPY --chown=1000:1000 repo/")
    assert 'MPLBACKEND="Agg"' in d and "pyfiglet" not in d
    report = _report(plan.labels)
    assert report["mode"] == "fallback" and "mode is 'fallback'" in str(report["reason"])
    assert any("binder/requirements.txt ignored: binder/environment.yml installs" in n for n in env.notes)
    assert any("root files are ignored: environment.yml" in n for n in env.notes)


def test_a_pip_section_that_refers_to_the_repository_installs_after_the_copy(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"environment.yml": "dependencies: [numpy, {pip: ['-e .']}]\n"})
    plan = render(detect(repo, SETTINGS, [CondaModule(CondaOptions(mode="fallback"))]), SETTINGS, ca_bundle=None)
    d = plan.dockerfile
    assert d.index("COPY --chown=1000:1000 repo/") < d.index("uv pip install -r /tmp/bindery-deps/conda-fallback")


def _client_env(tmp_path: Path, files: dict[str, str], options: CondaOptions | None = None):
    repo = _repo(tmp_path, files)
    seen: list[HostWork] = []

    def host(work: HostWork) -> HostResult:
        seen.append(work)
        return HostResult(True, "ok", {"channels": list(work.request["channels"]), "python": "3.10.14",
                                       "packages": [{"name": "python", "version": "3.10.14",
                                                     "url": "https://conda.anaconda.org/conda-forge/linux-64/python.conda",
                                                     "sha256": "ab"},
                                                    {"name": "ipykernel", "version": "7.0", "url": "https://conda.anaconda.org/conda-forge/noarch/ipykernel.conda"}]})

    env = detect(repo, SETTINGS, [CondaModule(options or CondaOptions())], run_host_work=host)
    return env, seen


def test_client_path_copies_the_linked_prefix_and_makes_its_python_the_kernel(tmp_path: Path) -> None:
    env, seen = _client_env(tmp_path, {
        "environment.yml": "channels: [conda-forge, defaults, nodefaults]\n"
                           "dependencies: [python=3.10, numpy, {pip: [tomli-w]}]\n",
        "requirements.txt": "pyfiglet\n",
    }, CondaOptions(channel_urls={"conda-forge": "https://mirror.example/cf"}))
    (work,) = seen
    assert work.kind == "conda" and work.context_dir == "conda-env"
    assert work.request["channels"] == ["https://mirror.example/cf"]  # defaults → conda-forge, once
    assert work.request["specs"] == ["python=3.10", "numpy"]
    # conda provides Python 3.10 itself; the server keeps the default Python.
    assert env.python_version == "3.11" and env.requirements is None
    plan = render(env, SETTINGS, ca_bundle=None)
    d = plan.dockerfile
    order = ["COPY --chown=1000:1000 .bindery/conda-env/ /srv/conda/", "-post-link.sh", "ipykernel install --prefix /srv/conda --name python3",
             "uv pip install --python /srv/conda/bin/python -r", "COPY --chown=1000:1000 repo/"]
    assert [d.index(m) for m in order] == sorted(d.index(m) for m in order)
    assert 'PATH="/usr/local/lib/bindery-conda/bin:/srv/conda/bin:$PATH"' in d
    assert 'JUPYTER_PATH="/srv/conda/share/jupyter"' in d
    assert "ln -sf /srv/venv/bin/jupyter /usr/local/lib/bindery-conda/bin/jupyter" in d
    report = _report(plan.labels)
    assert report["mode"] == "conda" and report["packages"] == [
        "https://conda.anaconda.org/conda-forge/linux-64/python.conda#sha256=ab",
        "https://conda.anaconda.org/conda-forge/noarch/ipykernel.conda#sha256="]
    assert any("Python 3.10.14 from conda is the notebook kernel" in line for line in plan.summary)


def test_auto_falls_back_when_the_host_says_unreachable(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"environment.yml": "dependencies: [numpy]\n"})
    env = detect(repo, SETTINGS, [CondaModule()],
                 run_host_work=lambda work: HostResult(False, "channel X is unreachable (DNS)"))
    plan = render(env, SETTINGS, ca_bundle=None)
    assert _report(plan.labels)["reason"] == "channel X is unreachable (DNS)"
    assert any("PyPI fallback (channel X is unreachable (DNS))" in line for line in plan.summary)


def test_a_lock_file_alone_needs_a_channel(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"pixi.lock": "version: 6\n"})
    with pytest.raises(RepoConfigError, match="pixi.lock pins exact conda packages"):
        detect(repo, SETTINGS, [CondaModule(CondaOptions(mode="fallback"))])


def test_a_lock_file_beside_environment_yml_is_noted_in_the_fallback(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"environment.yml": "dependencies: [numpy]\n", "conda-lock.yml": "version: 1\n"})
    plan = render(detect(repo, SETTINGS, [CondaModule(CondaOptions(mode="fallback"))]), SETTINGS, ca_bundle=None)
    assert "conda-lock.yml not used" in "\n".join(plan.summary)
    assert _report(plan.labels)["lock_not_used"] == "conda-lock.yml"


def test_a_lock_file_goes_to_the_client_with_its_text(tmp_path: Path) -> None:
    env, seen = _client_env(tmp_path, {"environment.yml": "dependencies: [numpy]\n", "conda-lock.yml": "version: 1\n"})
    assert seen[0].request["lock_name"] == "conda-lock.yml" and seen[0].request["lock_text"] == "version: 1\n"
    assert any("the lock wins" in n for c in env.contributions for n in c.notes)


@pytest.mark.parametrize("channel", ["http://127.0.0.1:9/private", "file:///etc", "../../x", "https://evil.example/c"])
def test_channels_outside_the_configuration_are_never_handed_to_the_host(tmp_path: Path, channel: str) -> None:
    repo = _repo(tmp_path, {"environment.yml": f"channels: ['{channel}']\ndependencies: [numpy]\n"})
    module = CondaModule()
    assert module.host_work(ConfigFiles(repo), SETTINGS) is None
    env = detect(repo, SETTINGS, [module], run_host_work=lambda w: pytest.fail("host work asked"))
    assert _report(render(env, SETTINGS, ca_bundle=None).labels)["mode"] == "fallback"
    with pytest.raises(RepoConfigError, match="environment.yml: channel"):
        detect(repo, SETTINGS, [CondaModule(CondaOptions(mode="conda"))])


def test_a_configured_channel_url_is_allowed(tmp_path: Path) -> None:
    _, seen = _client_env(tmp_path, {"environment.yml": "channels: ['https://mirror.example/cf/']\ndependencies: [numpy]\n"},
                          CondaOptions(channel_urls={"conda-forge": "https://mirror.example/cf"}))
    assert seen[0].request["channels"] == ["https://mirror.example/cf"]


def test_under_conda_setup_py_is_not_installed_as_on_mybinder(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"environment.yml": "dependencies: [numpy]\n", "setup.py": "from setuptools import setup\nsetup()\n"})
    env = detect(repo, SETTINGS, [CondaModule(CondaOptions(mode="fallback"))])
    assert env.install_repo is None
    assert any("setup.py not installed: environment.yml sets up the environment" in n for n in env.notes)


def test_a_channel_named_in_a_spec_joins_the_channels_by_the_same_rules(tmp_path: Path) -> None:
    _, seen = _client_env(tmp_path, {"environment.yml": "channels: [conda-forge]\n"
                                                        "dependencies: ['bioconda::samtools=1.19']\n"})
    assert seen[0].request["specs"] == ["samtools=1.19"]
    assert seen[0].request["channels"] == ["https://conda.anaconda.org/conda-forge",
                                           "https://conda.anaconda.org/bioconda"]


def test_a_locks_pypi_pins_go_before_the_pip_list(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"environment.yml": "dependencies: [numpy, {pip: [tomli-w]}]\n",
                            "pixi.lock": "version: 6\n"})
    env = detect(repo, SETTINGS, [CondaModule()], run_host_work=lambda w: HostResult(
        True, "ok", {"channels": ["c"], "packages": [], "pip_pins": ["six==1.16.0"]}))
    plan = render(env, SETTINGS, ca_bundle=None)
    assert plan.context_files["conda-pip-requirements.txt"] == b"six==1.16.0\ntomli-w\n"
    assert any("exactly as pixi.lock pins them" in line for line in plan.summary)
