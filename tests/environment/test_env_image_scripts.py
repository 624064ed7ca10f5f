"""The helpers that run inside R, Julia and Nix builds, run here on the host.

The servers they talk to (CRAN, Posit Package Manager, Julia's and Nix's downloads)
cannot be reached from this machine, so a local HTTP server stands in for them; a
closed port on 127.0.0.1 stands in for "unreachable".
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import importlib.util
import io
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import bindery.environment

SCRIPTS = Path(bindery.environment.__file__).parent / "image_scripts"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bindery_r = _load("bindery_r")
bindery_fetch = _load("bindery_fetch")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server (a stand-in for a CRAN mirror / download server) over ``tmp_path``."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def test_repository_probe_against_a_closed_port_says_what_was_not_reached_at_once() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/cran/latest/src/contrib/PACKAGES"
    started = time.monotonic()
    problem = bindery_r.probe(url, 5.0)
    assert time.monotonic() - started < 2
    assert problem is not None and url in problem and "could not be reached" in problem


def test_repository_probe_against_a_local_standin(standin) -> None:
    base, root = standin
    (root / "cran" / "src" / "contrib").mkdir(parents=True)
    (root / "cran" / "src" / "contrib" / "PACKAGES").write_text("Package: x\n")
    assert bindery_r.probe(f"{base}/cran/src/contrib/PACKAGES", 5.0) is None
    missing = bindery_r.probe(f"{base}/nosnapshot/src/contrib/PACKAGES", 5.0)
    assert missing is not None and "answered HTTP 404" in missing


def test_debian_report_says_which_install_r_calls_debian_satisfied() -> None:
    plan = {"calls": [
        {"line": 1, "text": 'install.packages(c("a", "b"))', "packages": ["a", "b"]},
        {"line": 2, "text": 'install.packages(c("a", "zz"))', "packages": ["a", "zz"]},
        {"line": 3, "text": 'install.packages("zz")', "packages": ["zz"]},
        {"line": 4, "text": 'remotes::install_github("o/r")', "packages": []},
    ]}
    state = {"missing": [{"name": "zz"}]}
    statuses = [c["status"] for c in bindery_r.debian_report(plan, state)]
    assert statuses == [
        "satisfied from Debian",
        "partly satisfied from Debian; missing zz",
        "not satisfied: Debian has none of zz",
        "not run: only running install.R could do this, and its repository is unreachable",
    ]


def _tarball(tmp: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"#!/bin/sh\necho julia\n"
        info = tarfile.TarInfo("julia-1.10.9/bin/julia")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_download_helper_fetches_checks_and_unpacks_from_a_local_standin(standin, tmp_path, capsys) -> None:
    base, root = standin
    payload = _tarball(tmp_path)
    (root / "julia.tar.gz").write_bytes(payload)
    target = tmp_path / "out"
    args = ["fetch", f"{base}/julia.tar.gz", str(tmp_path / "dl.tar.gz"), "--what", "Julia 1.10.9",
            "--setting", "[builder.modules.julia] download_url", "--extract", str(target), "--strip", "1"]
    assert bindery_fetch.main([*args, "--sha256", hashlib.sha256(payload).hexdigest()]) == 0
    assert (target / "bin" / "julia").read_text() == "#!/bin/sh\necho julia\n"

    assert bindery_fetch.main([*args, "--sha256", "0" * 64]) == 1
    out = capsys.readouterr().out
    assert "has SHA-256" in out and "expected 0000" in out


def test_download_helper_names_the_url_and_the_setting_when_nothing_answers(tmp_path, capsys) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/nix-2.13.2-x86_64-linux.tar.xz"
    code = bindery_fetch.main(["fetch", url, str(tmp_path / "x"), "--what", "the Nix 2.13.2 installer",
                               "--setting", "[builder.modules.nix] installer_url", "--timeout", "5"])
    assert code == 1
    out = capsys.readouterr().out
    assert f"the Nix 2.13.2 installer could not be downloaded: {url} could not be reached" in out
    assert "Set [builder.modules.nix] installer_url to a mirror this build can reach" in out
