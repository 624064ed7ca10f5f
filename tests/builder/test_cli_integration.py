"""The ``bindery build`` / ``bindery run`` commands as a user types them, on the real engine."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import httpx
import pytest

from .conftest import PREFIX, run_in_image

pytestmark = [pytest.mark.engine, pytest.mark.slow]

BINDERY = [str(Path(sys.executable).parent / "bindery")]


def _env(tmp_path: Path) -> dict[str, str]:
    """The user's environment, with an empty config file so a ./bindery.toml cannot interfere."""
    (tmp_path / "none.toml").write_text("")
    return {**os.environ, "BINDERY_BUILDER__IMAGE_PREFIX": PREFIX, "BINDERY_CONFIG": str(tmp_path / "none.toml")}


def test_build_prints_image_name_last_and_reuses_it(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"requirements.txt": "six==1.16.0\n"}, name="cli-build")
    env = _env(tmp_path)
    first = subprocess.run([*BINDERY, "build", str(repo)], capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    name = first.stdout.strip().splitlines()[-1]
    assert name.startswith(PREFIX + "/cli-build-")
    assert "import six" not in name
    assert "1.16.0" in run_in_image(name, "python -c 'import six; print(six.__version__)'").stdout

    started = time.monotonic()
    again = subprocess.run([*BINDERY, "build", str(repo), "--json-logs"], capture_output=True, text=True,
                           env=env, timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    events = [json.loads(line) for line in again.stdout.splitlines() if line.strip()]
    assert all("phase" in e for e in events)
    assert events[-1]["phase"] == "built" and events[-1]["imageName"] == name
    assert time.monotonic() - started < 30  # reused, not rebuilt


def test_bad_ref_exits_non_zero_with_the_reason(make_repo, bare_url, tmp_path: Path) -> None:
    url = bare_url(make_repo({"a.txt": "a\n"}, name="cli-bad"))
    done = subprocess.run([*BINDERY, "build", url, "--ref", "nope"], capture_output=True, text=True,
                          env=_env(tmp_path), timeout=120)
    assert done.returncode != 0
    assert "'nope' does not exist" in done.stderr


def test_python_package_repositories_are_installed(builder, make_repo) -> None:
    """pyproject.toml and Pipfile repositories, as repo2docker handles them."""
    from bindery.sources import resolve

    package = make_repo({
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
                          '[project]\nname = "mypkg"\nversion = "0.3"\ndependencies = ["six==1.16.0"]\n',
        "mypkg/__init__.py": "ANSWER = 42\n",
    }, name="pkg")
    built = builder.build(resolve(str(package)))
    out = run_in_image(built.name, "cd /tmp && python -c 'import mypkg, six; print(mypkg.ANSWER, six.__version__)'")
    assert out.stdout.strip() == "42 1.16.0", out.stdout + out.stderr

    pipfile = make_repo({"Pipfile": '[packages]\nidna = "==3.7"\n\n[requires]\npython_version = "3.11"\n'},
                        name="pipenv")
    built = builder.build(resolve(str(pipfile)))
    out = run_in_image(built.name, "python -c 'import idna; print(idna.__version__)'")
    assert out.stdout.strip() == "3.7", out.stdout + out.stderr


def test_image_trusts_the_extra_ca_certificates(builder, make_repo) -> None:
    """The host's bundle (default extra CA) is trusted by Python inside the image."""
    from bindery.sources import resolve

    extra = builder.settings.extra_ca_certificates
    if not extra:
        pytest.skip("no extra CA certificates configured on this machine")
    def bodies(text: str) -> set[str]:
        return {"".join(m.split()) for m in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END", text, re.DOTALL)}

    wanted = bodies(Path(extra[0]).read_text())
    built = builder.build(resolve(str(make_repo({"a.txt": "a\n"}, name="ca"))))
    out = run_in_image(built.name, "cat \"$SSL_CERT_FILE\"; echo PIP=$PIP_CERT")
    assert wanted and wanted <= bodies(out.stdout)  # every host root, the intercepting one included
    assert "PIP=/etc/ssl/certs/ca-certificates.crt" in out.stdout


def test_run_editable_serves_the_live_folder_and_ctrl_c_removes_it(make_repo, tmp_path: Path) -> None:
    repo = make_repo({"requirements.txt": "six==1.16.0\n", "hello.ipynb": "{}"}, name="cli-run")
    repo.chmod(0o777)  # the server runs as uid 1000 inside; let it read the mounted folder
    process = subprocess.Popen([*BINDERY, "run", str(repo), "--editable", "--json-logs", "--memory", "1g"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
    ready = None
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 600
        for line in process.stdout:
            event = json.loads(line)
            if event["phase"] == "ready":
                ready = event
                break
            assert event["phase"] != "failed", event
            assert time.monotonic() < deadline
        assert ready is not None, process.stderr.read() if process.stderr else ""
        assert ready["url"].startswith("http://127.0.0.1:")
        headers = {"Authorization": f"token {ready['token']}"}
        with httpx.Client(trust_env=False, timeout=10) as http:
            assert http.get(ready["url"] + "api/contents").status_code in (401, 403)  # no token, no entry
            (repo / "made-on-host.txt").write_text("live\n")
            listing = http.get(ready["url"] + "api/contents", headers=headers).json()
            names = {item["name"] for item in listing["content"]}
            assert {"hello.ipynb", "made-on-host.txt"} <= names
        client = docker.from_env()
        running = client.containers.list(filters={"label": "org.bindery.run=cli"})
        assert len(running) == 1
        assert running[0].attrs["HostConfig"]["Memory"] == 1024**3
        container_id = running[0].id
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    with pytest.raises(docker.errors.NotFound):
        docker.from_env().containers.get(container_id)
