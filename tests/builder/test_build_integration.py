"""Real builds on the real Docker engine; a ``verify`` script inside each image checks it."""

from __future__ import annotations

import json
import re
import secrets

import anyio
import httpx
import pytest

from bindery.builder import Builder
from bindery.engine.base import RunRequest
from bindery.readiness import wait_until_ready
from bindery.sources import resolve

from .conftest import git, run_in_image

pytestmark = [pytest.mark.engine, pytest.mark.slow]

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})

FULL_REPO = {
    "requirements.txt": "six==1.16.0\nidna==3.7\n",
    "apt.txt": "# a tiny tool\njq\n",
    "postBuild": "#!/bin/bash\nset -e\necho built-by-postbuild > $HOME/.postbuild-marker\n",
    "start": "#!/bin/bash\nexport BINDERY_START_RAN=yes\nexec \"$@\"\n",
    "analysis.ipynb": NOTEBOOK,
    "verify": """#!/bin/bash
set -euo pipefail
python -c "import six, idna; assert six.__version__ == '1.16.0', six.__version__; assert idna.__version__ == '3.7'"
jq --version
test "$(cat $HOME/.postbuild-marker)" = built-by-postbuild
test "$BINDERY_START_RAN" = yes
test -f $HOME/analysis.ipynb
test "$(id -u)" = 1000
test "$HOME" = /home/jovyan
python -c "import jupyterlab, notebook, ipykernel; assert notebook.__version__.startswith('7')"
echo VERIFIED
""",
}


def test_full_repo_builds_and_verifies(builder: Builder, make_repo, bare_url) -> None:
    url = bare_url(make_repo(FULL_REPO, name="full"))
    events: list[dict] = []
    ref = resolve(url)
    built = builder.build(ref, on_event=events.append)
    assert not built.reused
    phases = [e["phase"] for e in events]
    assert phases[0] == "fetching" and phases[-1] == "built" and "building" in phases
    result = run_in_image(built.name, "./verify")
    assert "VERIFIED" in result.stdout, result.stdout + result.stderr

    labels = builder.engine.image_labels(built.name)
    assert labels is not None
    assert labels["org.bindery.source"] == url
    assert labels["org.bindery.ref"] == ref.resolved
    assert labels["org.bindery.base-image"] == "bindery/base:bookworm"
    lock = labels["org.bindery.lock"].lower()
    assert "six==1.16.0" in lock and "idna==3.7" in lock and "jupyterlab==" in lock

    # The same source and commit again: reused, not rebuilt.
    again = builder.build(resolve(url))
    assert again.reused and again.name == built.name


def test_branch_tag_and_commit_each_build_their_own_content(builder: Builder, make_repo, bare_url, tmp_path) -> None:
    work = make_repo({"data.txt": "v1\n"}, name="refs")
    git(work, "tag", "v1")
    first = git(work, "rev-parse", "HEAD")
    git(work, "checkout", "-q", "-b", "dev")
    (work / "data.txt").write_text("dev\n")
    git(work, "commit", "-qam", "dev change")
    url = bare_url(work)

    by_tag = builder.build(resolve(url, "v1"))
    by_branch = builder.build(resolve(url, "dev"))
    by_sha = builder.build(resolve(url, first))
    assert by_tag.name == by_sha.name != by_branch.name
    assert by_sha.reused
    assert run_in_image(by_tag.name, "cat data.txt").stdout == "v1\n"
    assert run_in_image(by_branch.name, "cat data.txt").stdout == "dev\n"


def test_notebook_change_does_not_reinstall_dependencies(builder: Builder, make_repo) -> None:
    repo = make_repo({"requirements.txt": "six==1.16.0\n", "a.ipynb": NOTEBOOK}, name="nbchange")
    builder.build(resolve(str(repo)))
    (repo / "a.ipynb").write_text(NOTEBOOK.replace('"cells": []', '"cells": [{"cell_type": "markdown", "metadata": {}, "source": "hi"}]'))
    git(repo, "commit", "-qam", "edit notebook")
    log: list[str] = []
    rebuilt = builder.build(resolve(str(repo)), on_event=lambda e: log.append(e["message"]))
    text = "".join(log)
    # BuildKit names each step "#N [..] RUN ..." and prints "#N CACHED" on its
    # own line for a step it did not run.
    steps = re.findall(r"^#(\d+) \[.*uv pip install.*requirements.*$", text, re.MULTILINE)
    assert steps, text[-3000:]
    for number in steps:
        assert re.search(rf"^#{number} CACHED$", text, re.MULTILINE), text[-3000:]
    assert "hi" in run_in_image(rebuilt.name, "cat a.ipynb").stdout


def test_runtime_txt_selects_python_313(builder: Builder, make_repo) -> None:
    repo = make_repo({"runtime.txt": "python-3.13\n"}, name="py313")
    built = builder.build(resolve(str(repo)))
    out = run_in_image(built.name, "python -c 'import sys; print(sys.version_info[:2])'").stdout
    assert out.strip() == "(3, 13)"
    assert builder.engine.image_labels(built.name)["org.bindery.python"] == "3.13"


def test_repo_dockerfile_is_used_as_given(builder: Builder, make_repo) -> None:
    repo = make_repo({
        "binder/Dockerfile": "FROM bindery/base:bookworm\nRUN echo from-dockerfile > /marker\nCMD [\"cat\", \"/marker\"]\n",
        "requirements.txt": "this-is-ignored-because-of-the-dockerfile\n",
    }, name="ownfile")
    built = builder.build(resolve(str(repo)))
    labels = builder.engine.image_labels(built.name)
    assert labels["org.bindery.repo-dockerfile"] == "true"
    assert run_in_image(built.name, "cat /marker").stdout == "from-dockerfile\n"


def test_container_answers_api_status_with_its_token(builder: Builder, make_repo) -> None:
    built = builder.build(resolve(str(make_repo({"a.ipynb": NOTEBOOK}, name="runme"))))
    token = secrets.token_hex(16)
    server = builder.engine.run(RunRequest(image=built.name, token=token, memory="1g", cpus=1.0))
    try:
        assert server.url.startswith("http://127.0.0.1:")
        seconds = anyio.run(wait_until_ready, f"{server.url}/api/status", token, 90)
        ok = httpx.get(f"{server.url}/api/status", headers={"Authorization": f"token {token}"})
        assert ok.status_code == 200 and "started" in ok.json()
        denied = httpx.get(f"{server.url}/api/contents")
        assert denied.status_code == 403
        listing = httpx.get(f"{server.url}/api/contents", headers={"Authorization": f"token {token}"})
        assert "a.ipynb" in {item["name"] for item in listing.json()["content"]}
        inspect = builder.engine.client.api.inspect_container(server.container_id)
        assert inspect["HostConfig"]["Memory"] == 1024**3
        assert inspect["HostConfig"]["NanoCpus"] == 10**9
        assert inspect["HostConfig"]["PidsLimit"] == 512
        assert seconds < 60
    finally:
        builder.engine.stop(server.container_id)
