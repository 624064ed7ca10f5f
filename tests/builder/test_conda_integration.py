"""conda environments on the real engine: the client path against a local channel (a
stand-in: conda channels cannot be reached from here) and the PyPI fallback against the
real PyPI. A ``verify`` script inside each image checks what a user would."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bindery.builder import Builder
from bindery.composition import Settings, make_builder
from bindery.sources import resolve

from .conda_channel import serve, standin_channel
from .conftest import PREFIX, run_in_image

pytestmark = pytest.mark.engine


def _builder(modules: dict[str, dict[str, object]], work_dir: Path) -> Builder:
    settings = Settings()
    settings.builder.image_prefix = PREFIX
    settings.builder.modules = modules
    return make_builder(settings)


@pytest.fixture
def remove_images() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    client = docker.from_env()
    for name in names:
        try:
            client.images.remove(name)
        except docker.errors.APIError:
            pass


STANDIN_VERIFY = """#!/bin/bash
set -euo pipefail
test "$(hello)" = "hello from /srv/conda"
test "$(cat /srv/conda/share/hello/data.txt)" = "lib 2.0"
test "$(cat /srv/conda/share/hello/post-link.txt)" = "ran for hello"
test "$CONDA_DIR" = /srv/conda
test "$GREETING" = "from environment.yml"
# the environment's python comes first on PATH; conda and pip: packages import from it
test "$(command -v python)" = /srv/conda/bin/python
python - <<'PY'
import sys, hello_py, tomli_w
assert sys.prefix == "/srv/conda", sys.prefix
assert hello_py.__file__ == "/srv/conda/lib/python3.11/site-packages/hello_py/__init__.py"
assert tomli_w.__file__.startswith("/srv/conda/lib/python3.11/site-packages/"), tomli_w.__file__
PY
# requirements.txt next to environment.yml is not installed (as on mybinder.org)
! python -c 'import pyfiglet' 2>/dev/null
# jupyter is still the image's server, and it sees the environment's kernels
jupyter lab --version >/dev/null
jupyter kernelspec list --json | python -c '
import json, sys
specs = json.load(sys.stdin)["kernelspecs"]
hello = specs["hello"]
assert hello["resource_dir"] == "/srv/conda/share/jupyter/kernels/hello", hello
assert hello["spec"]["argv"][0] == "/srv/conda/bin/hello", hello
'
echo verified
"""


def test_conda_env_from_local_channel_standin(make_repo, tmp_path: Path, remove_images: list[str]) -> None:
    standin_channel(tmp_path / "channels")
    repo = make_repo({
        "environment.yml": "channels: [standin]\ndependencies:\n  - hello-kernel\n  - python=3.11\n"
                           "  - hello-py\n  - pip:\n    - tomli-w==1.0.0\n"
                           "variables:\n  GREETING: from environment.yml\n",
        "requirements.txt": "pyfiglet\n",
        "verify": STANDIN_VERIFY,
    })
    events: list[str] = []
    with serve(tmp_path / "channels") as (url, seen):
        builder = _builder({"conda": {"mode": "conda", "channel_alias": url, "kernel_packages": [],
                                      "cache_dir": str(tmp_path / "cache")}}, tmp_path)
        built = builder.build(resolve(str(repo)), on_event=lambda e: events.append(e["message"]))
        remove_images.append(built.name)
    assert any("GET /standin/noarch/hello-1.2.3-0.tar.bz2" in line for line in seen)
    log = "".join(events)
    assert "conda environment in /srv/conda, 5 packages solved by the conda client" in log
    assert "environment.yml: pip: 1 requirement(s) installed into /srv/conda with uv" in log
    assert "Python 3.11.2 from conda is on PATH; the notebook kernel stays the image's Python" in log
    assert "requirements.txt ignored: environment.yml installs the packages" in log
    report = json.loads(built.labels["org.bindery.conda"])
    assert report["mode"] == "conda" and len(report["packages"]) == 5
    result = run_in_image(built.name, "./verify")
    assert result.returncode == 0 and "verified" in result.stdout, result.stdout + result.stderr


FALLBACK_ENV = """\
name: analysis
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.26
  - pandas=2.2
  - matplotlib-base=3.8
  - nodejs
  - r-ggplot2
  - pip
  - pip:
    - tomli-w==1.0.0
"""

FALLBACK_VERIFY = """#!/bin/bash
set -euo pipefail
python - <<'PY'
import sys
import matplotlib, numpy, pandas, tomli_w
assert sys.version_info[:2] == (3, 11), sys.version
assert numpy.__version__.startswith("1.26."), numpy.__version__
assert pandas.__version__.startswith("2.2."), pandas.__version__
assert matplotlib.__version__.startswith("3.8."), matplotlib.__version__
PY
! python -c 'import pyfiglet' 2>/dev/null
echo verified
"""


@pytest.mark.slow
def test_conda_fallback_installs_the_environment_from_pypi(make_repo, tmp_path: Path,
                                                           remove_images: list[str]) -> None:
    repo = make_repo({"environment.yml": FALLBACK_ENV, "requirements.txt": "pyfiglet\n",
                      "verify": FALLBACK_VERIFY})
    with socket.socket() as closed:  # auto mode, and the configured channel does not answer
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    builder = _builder({"conda": {"channel_alias": dead}}, tmp_path)
    events: list[str] = []
    built = builder.build(resolve(str(repo)), on_event=lambda e: events.append(e["message"]))
    remove_images.append(built.name)
    log = "".join(events)
    assert "environment.yml: PyPI fallback (channel " in log
    assert "conda matplotlib-base=3.8 → PyPI matplotlib==3.8.*" in log
    assert "conda r-ggplot2 not installed: an R package" in log
    report = json.loads(built.labels["org.bindery.conda"])
    assert report["mode"] == "fallback"
    assert {"conda": "numpy=1.26", "pypi": "numpy==1.26.*"} in report["mapped"]
    assert {d["conda"] for d in report["dropped"]} == {"python=3.11", "nodejs", "r-ggplot2", "pip"}
    assert report["pip"] == ["tomli-w==1.0.0"]
    result = run_in_image(built.name, "./verify")
    assert result.returncode == 0 and "verified" in result.stdout, result.stdout + result.stderr
