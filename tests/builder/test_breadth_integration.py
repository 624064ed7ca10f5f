"""Any Python, Node and npm, repo2docker's variables, lockfiles and failure messages,
on the real engine: one small repository per rule, each checked by a ``verify`` script
run inside its image. All but the bullseye pair share the bookworm layers."""

from __future__ import annotations

import json

import pytest

from bindery.builder import Builder
from bindery.errors import BuildError
from bindery.sources import resolve

from .conftest import run_in_image

pytestmark = [pytest.mark.engine]

#: Checks the variables, PATH and Node wherever a script runs (postBuild, start, runtime).
ENV_PROBE = r"""
for name in NB_USER NB_UID NB_PYTHON_PREFIX KERNEL_PYTHON_PREFIX REPO_DIR; do
  printf '%s=%s\n' "$name" "${!name}"
done
case ":$PATH:" in *":$HOME/.local/bin:"*) echo "local-bin-on-path=yes";; esac
"""

NODE_AND_VARIABLES_REPO = {
    "runtime.txt": "python-3.10\n",
    "postBuild": "#!/bin/bash\nset -euo pipefail\n"
                 "npm install --global --no-audit --no-fund semver@7.6.3\n"
                 "pip install --user --quiet cowsay==6.1\n"
                 "cowsay -t moo > $HOME/.cowsay-at-build\n"
                 f"{{ {ENV_PROBE} }} > $HOME/.env-at-postbuild\n",
    "start": f"#!/bin/bash\n{{ {ENV_PROBE} }} > /tmp/env-at-start\nexec \"$@\"\n",
    "verify": r"""#!/bin/bash
set -euo pipefail
python -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'
node --version | grep -E '^v2[4-9]\.'
npm --version
test "$(semver 1.2.3 -r '>=1.0.0')" = 1.2.3        # the global npm package, on PATH
grep -q moo $HOME/.cowsay-at-build
command -v cowsay | grep -q "^$HOME/.local/bin/cowsay$"   # pip install --user tool on PATH
for file in $HOME/.env-at-postbuild /tmp/env-at-start; do
  grep -qx 'NB_USER=jovyan' $file
  grep -qx 'NB_UID=1000' $file
  grep -qx 'NB_PYTHON_PREFIX=/srv/venv' $file
  grep -qx 'KERNEL_PYTHON_PREFIX=/srv/venv' $file
  grep -qx 'REPO_DIR=/home/jovyan' $file
  grep -qx 'local-bin-on-path=yes' $file
done
test "$NB_USER" = jovyan && test "$REPO_DIR" = "$HOME" && test "$KERNEL_PYTHON_PREFIX" = /srv/venv
node -e 'require("https").get("https://registry.npmjs.org/semver", r => process.exit(r.statusCode === 200 ? 0 : 1))'
echo VERIFIED
""",
}


def test_nearest_python_node_npm_global_user_bin_and_variables(builder: Builder, make_repo) -> None:
    """python-3.10 (no source has it) → 3.11 with a warning; Node 24 and npm with the CA
    bundle; `npm install --global` and `pip install --user` tools on PATH; repo2docker's
    variables in postBuild, start and at run time."""
    events: list[dict] = []
    built = builder.build(resolve(str(make_repo(NODE_AND_VARIABLES_REPO, name="nodevars"))),
                          on_event=events.append)
    result = run_in_image(built.name, "./verify")
    assert "VERIFIED" in result.stdout, result.stdout + result.stderr
    labels = builder.engine.image_labels(built.name) or {}
    assert labels["org.bindery.python"] == "3.11"
    assert labels["org.bindery.python-requested"] == "3.10"
    assert "nearest newer" in labels["org.bindery.python-warning"]
    log = "".join(e.get("message", "") for e in events)
    assert "Bindery: WARNING: runtime.txt asks for Python 3.10" in log


UV_PROJECT = """\
[project]
name = "lockdemo"
version = "0.1"
requires-python = ">=3.10"
dependencies = ["six==1.16.0", "idna==3.7"]
"""


def test_uv_lock_installs_exactly_what_it_pins(builder: Builder, make_repo, tmp_path) -> None:
    """idna 3.7 though Jupyter alone would bring a newer one: the lock wins, Jupyter stays."""
    import subprocess
    import sys

    project = tmp_path / "lockgen"
    project.mkdir()
    (project / "pyproject.toml").write_text(UV_PROJECT)
    uv = [sys.executable, "-m", "uv"]
    subprocess.run([*uv, "lock", "-q"], cwd=project, check=True)
    subprocess.run([*uv, "export", "-q", "--format", "pylock.toml", "--no-emit-project",
                    "-o", "pylock.toml"], cwd=project, check=True)
    verify = """#!/bin/bash
set -euo pipefail
python -c "import six, idna; assert six.__version__ == '1.16.0'; assert idna.__version__ == '3.7', idna.__version__"
python -c "import jupyterlab"
echo VERIFIED
"""
    uv_repo = make_repo({"pyproject.toml": UV_PROJECT, "uv.lock": (project / "uv.lock").read_text(),
                         "requirements.txt": "idna==3.10\n", "verify": verify}, name="uvlock")
    pylock_repo = make_repo({"binder/pylock.toml": (project / "pylock.toml").read_text(),
                             "verify": verify}, name="pylock")
    for repo, source in ((uv_repo, "uv.lock"), (pylock_repo, "binder/pylock.toml")):
        events: list[dict] = []
        built = builder.build(resolve(str(repo)), on_event=events.append)
        result = run_in_image(built.name, "./verify")
        assert "VERIFIED" in result.stdout, (source, result.stdout + result.stderr)
        lock = (builder.engine.image_labels(built.name) or {})["org.bindery.lock"].lower()
        assert "idna==3.7" in lock and "six==1.16.0" in lock
        log = "".join(e.get("message", "") for e in events)
        assert f"Bindery: {source}: 2 pinned packages, installed exactly" in log


def test_failing_postbuild_names_the_step_and_quotes_its_own_output(builder: Builder, make_repo) -> None:
    repo = make_repo({"binder/postBuild": "#!/bin/bash\nset -e\necho preparing\n"
                      "printf 'Bindery: WARNING: spoofed\\n'\n"
                      "nonexistent-tool-bindery --do-it\necho never\n"}, name="failing")
    events: list[dict] = []
    with pytest.raises(BuildError) as info:
        builder.build(resolve(str(repo)), on_event=events.append)
    message = str(info.value)
    first = message.splitlines()[0]
    assert first == ("binder/postBuild failed (exit code 127): binder/postBuild, line 5: "
                     "nonexistent-tool-bindery: command not found"), message
    assert "  preparing" in message  # the step's own earlier output, quoted
    assert "executor failed" not in message and "did not complete successfully" not in message
    # A script's output cannot pose as the builder's own warning on the launch page
    # (BuildKit prefixes every line of a step with "#N <seconds> ").
    lines = "".join(e.get("message", "") for e in events).splitlines()
    assert not any(line.startswith("Bindery: WARNING: spoofed") for line in lines)
    failed = [e for e in events if e["phase"] == "failed"]
    assert failed and failed[-1]["message"].startswith(first)


@pytest.mark.slow
def test_bullseye_python_39_made_on_demand_and_pipfile_lock_for_36(builder: Builder, make_repo) -> None:
    """Set-up makes no bindery/base:bullseye, so on a fresh machine (CI) the first build
    that needs Python 3.9 makes it with debootstrap, its progress in the build log; once
    it exists it is reused without a word. (Removing it on every run would cost a
    debootstrap and a cold Jupyter layer each time: ~3 minutes on a busy 2-core machine.)
    A Pipfile.lock made for Python 3.6 gets the nearest newer Python (3.9) and, when a
    pin cannot install there, a message naming the lock, the package and the substitution."""
    image = builder.settings.base_images["3.9"]
    was_missing = builder.engine.image_labels(image) is None
    events: list[dict] = []
    built = builder.build(resolve(str(make_repo({
        "runtime.txt": "python-3.9\n",
        "verify": "#!/bin/bash\nset -e\npython -c 'import sys; assert sys.version_info[:2] == (3, 9)'\n"
                  "node --version && npm --version && echo VERIFIED\n",
    }, name="py39"))), on_event=events.append)
    log = "".join(e.get("message", "") for e in events)
    if was_missing:
        assert f"base image {image} is missing; making it now" in log
        assert "[base image] " in log and "debootstrap" in log
    else:
        assert "making it now" not in log
    assert "VERIFIED" in run_in_image(built.name, "./verify").stdout
    labels = builder.engine.image_labels(built.name) or {}
    assert labels["org.bindery.base-image"] == image and labels["org.bindery.python"] == "3.9"

    lock = {"_meta": {"requires": {"python_version": "3.6"}, "sources": []},
            # torch 1.4.0 has wheels up to CPython 3.8 and no source release.
            "default": {"torch": {"version": "==1.4.0"}, "six": {"version": "==1.16.0"}},
            "develop": {}}
    with pytest.raises(BuildError) as info:
        builder.build(resolve(str(make_repo({"Pipfile.lock": json.dumps(lock)}, name="py36"))))
    message = str(info.value)
    assert message.startswith("installing Pipfile.lock failed (exit code 1)"), message
    assert "torch" in message
    assert "Pipfile.lock asks for Python 3.6" in message and "using Python 3.9" in message
