"""uv-managed Pythons are offered only while the configured mirror answers.

The python-build-standalone mirror is unreachable from this machine, so the mirror
here is a stand-in: a real HTTP server on 127.0.0.1 (any answer counts), and a
closed 127.0.0.1 port for a mirror that does not answer. Downloading CPython
through it is not exercised (see docs/environment.md).
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from bindery.builder import Builder
from bindery.builder.python_mirror import mirror_problem
from bindery.builder.settings import BuilderSettings
from bindery.engine.docker import DockerEngine
from bindery.environment import RepoConfigError, detect


@pytest.fixture
def standin_mirror() -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/releases/download"
    server.shutdown()


@pytest.fixture
def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/releases/download"


def _builder(mirror: str, policy: str = "nearest") -> Builder:
    settings = BuilderSettings(extra_ca_certificates=[], python_install_mirror=mirror,
                               python_policy=policy)  # type: ignore[arg-type]
    return Builder(settings, DockerEngine())


def test_probe_of_standin_mirror_and_of_a_closed_port(standin_mirror, closed_port) -> None:
    assert mirror_problem(standin_mirror) == ""  # a 404 is still an answer
    assert mirror_problem(closed_port).startswith("does not answer (")


def test_answering_standin_mirror_offers_python_310(standin_mirror, make_repo_dir) -> None:
    builder = _builder(standin_mirror)
    events: list[dict] = []
    options = builder._options_for_build(events.append)
    env = detect(make_repo_dir({"runtime.txt": "python-3.10\n"}), options)
    assert env.python_version == "3.10" and env.python_managed and env.python_warning is None
    assert events == []


def test_silent_mirror_means_nearest_debian_python_with_the_reason(closed_port, make_repo_dir) -> None:
    builder = _builder(closed_port)
    events: list[dict] = []
    options = builder._options_for_build(events.append)
    assert f"the Python mirror {closed_port} does not answer" in events[0]["message"]
    env = detect(make_repo_dir({"runtime.txt": "python-3.10\n"}), options)
    assert env.python_version == "3.11" and not env.python_managed
    assert "does not answer" in (env.python_warning or "")


def test_silent_mirror_under_exact_policy_is_a_clear_error(closed_port, make_repo_dir) -> None:
    builder = _builder(closed_port, "exact")
    options = builder._options_for_build(lambda event: None)
    with pytest.raises(RepoConfigError) as err:
        detect(make_repo_dir({"runtime.txt": "python-3.10\n"}), options)
    text = str(err.value)
    assert "asks for Python 3.10" in text and closed_port in text and "does not answer" in text
