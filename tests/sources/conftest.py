"""Real git repositories served three ways: file://, ``git daemon`` and ``git http-backend``.

Everything listens on 127.0.0.1 only. The repositories are made once per session:
``owner/repo.git`` has a ``main`` branch (3 commits), a ``dev`` branch, a
lightweight tag ``v1`` and an annotated tag ``v2``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent-bindery-test-home",
}


def git(*args: str, cwd: Path | None = None) -> str:
    """Run git for test setup (never the code under test)."""
    return subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=GIT_ENV,
                          check=True, capture_output=True, text=True).stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Origin:
    """The session's repositories and the commits tests expect."""

    base: Path  # directory holding the bare repositories (owner/repo.git, ...)
    work: Path  # the non-bare work tree the history was made in
    first: str
    second: str
    main: str
    dev: str
    v1: str  # commit of the lightweight tag
    v2: str  # commit the annotated tag points to

    @property
    def bare(self) -> Path:
        return self.base / "owner" / "repo.git"

    @property
    def file_url(self) -> str:
        return self.bare.as_uri()


def _commit(work: Path, name: str, text: str) -> str:
    (work / name).write_text(text)
    git("add", name, cwd=work)
    git("commit", "-q", "-m", f"add {name}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


@pytest.fixture(scope="session")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Origin:
    root = tmp_path_factory.mktemp("origin")
    work = root / "work"
    work.mkdir()
    git("init", "-q", cwd=work)
    first = _commit(work, "README.md", "first\n")
    git("tag", "v1", cwd=work)
    second = _commit(work, "requirements.txt", "numpy\n")
    git("tag", "-a", "v2", "-m", "release 2", cwd=work)
    main = _commit(work, "main.txt", "on main\n")
    git("checkout", "-q", "-b", "dev", first, cwd=work)
    dev = _commit(work, "dev.txt", "on dev\n")
    git("checkout", "-q", "main", cwd=work)
    base = root / "served"
    for path in ("owner/repo.git", "group/sub/project.git", "someone/0123abcd.git"):
        (base / path).parent.mkdir(parents=True, exist_ok=True)
        git("clone", "-q", "--bare", str(work), str(base / path))
    return Origin(base=base, work=work, first=first, second=second, main=main, dev=dev, v1=first, v2=second)


@pytest.fixture(scope="session")
def git_daemon(origin: Origin) -> str:
    """``git://127.0.0.1:<port>`` serving ``origin.base``."""
    port = free_port()
    process = subprocess.Popen(
        ["git", "daemon", "--export-all", "--reuseaddr", "--informative-errors",
         f"--base-path={origin.base}", "--listen=127.0.0.1", f"--port={port}", str(origin.base)],
        env=GIT_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"git://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _http_backend_handler(project_root: Path, protocol_v0: bool = False) -> type[BaseHTTPRequestHandler]:
    class GitHTTPBackend(BaseHTTPRequestHandler):
        """Runs ``git http-backend`` as a CGI for each request (smart HTTP protocol)."""

        def _run(self) -> None:
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            env = {
                **GIT_ENV, "GIT_PROJECT_ROOT": str(project_root), "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                "REMOTE_ADDR": "127.0.0.1", "GIT_PROTOCOL": "" if protocol_v0 else self.headers.get("Git-Protocol", ""),
            }
            out = subprocess.run(["git", "http-backend"], check=False, input=body, env=env, capture_output=True).stdout
            separator = b"\r\n\r\n" if b"\r\n\r\n" in out else b"\n\n"
            head, _, payload = out.partition(separator)
            status = 200
            headers = []
            for line in head.decode("latin-1").splitlines():
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.strip().split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _run

        def log_message(self, *args: object) -> None:
            return None

    return GitHTTPBackend


@pytest.fixture(scope="session")
def http_git(origin: Origin) -> str:
    """``http://127.0.0.1:<port>`` serving ``origin.base`` through ``git http-backend``."""
    yield from _serve_http(origin, protocol_v0=False)


@pytest.fixture(scope="session")
def http_git_v0(origin: Origin) -> str:
    """Like ``http_git`` but speaking only protocol v0, which refuses fetching an unadvertised sha."""
    yield from _serve_http(origin, protocol_v0=True)


def _serve_http(origin: Origin, protocol_v0: bool):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _http_backend_handler(origin.base, protocol_v0))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()
