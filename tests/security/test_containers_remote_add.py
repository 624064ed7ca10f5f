"""Finding 6: a repository Dockerfile's remote ``ADD`` was fetched by the engine from the host.

The engine (not the build container) downloads ``ADD <url>`` sources and
``# syntax=`` frontends, from the host's network namespace, so
``ADD http://127.0.0.1:PORT/secret`` copied a loopback-only secret into the
image. A public builder refuses such Dockerfiles before the engine sees them;
``bindery build`` (trusted, CLI) builds them as before.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from builder.conftest import git, run_in_image, write_files

from bindery.builder import Builder
from bindery.composition import Settings, make_engine
from bindery.environment.dockerfile import remote_fetches
from bindery.errors import BuildError
from bindery.sources import SourceCatalog, resolve

PREFIX = "bindery-test-security"


@pytest.mark.parametrize("text, expected", [
    ("FROM x\nADD http://127.0.0.1:1/secret /s\n", ["line 2: ADD http://127.0.0.1:1/secret"]),
    ("FROM x\nadd \\\n  --checksum=sha256:00 \\\n  https://h/a /d\n", ["line 2: ADD https://h/a"]),
    ('FROM x\nADD ["ftp://h/a", "/d"]\n', ["line 2: ADD ftp://h/a"]),
    ("FROM x\nADD local.txt git@github.com:o/r.git /d\n", ["line 2: ADD git@github.com:o/r.git"]),
    ("# escape=`\nFROM x\nADD `\n http://h/a /d\n", ["line 3: ADD http://h/a"]),
    ("# syntax=docker/dockerfile:1\nFROM x\n", ["'# syntax=docker/dockerfile:1'"]),
    ("FROM x\n# syntax=late-is-a-comment\nADD src /d\nCOPY http://h/a /d\nRUN curl http://h/a\n", []),
])
def test_remote_fetches_are_found_in_every_spelling(text: str, expected: list[str]) -> None:
    found = remote_fetches(text)
    assert len(found) == len(expected), found
    for problem, start in zip(found, expected, strict=True):
        assert problem.startswith(start), problem


@pytest.fixture
def secret_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 serving a secret; yields (url, paths requested)."""
    secret = f"loopback-secret-{secrets.token_hex(8)}"
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            requested.append(self.path)
            body = secret.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/secret#{secret}", requested
    finally:
        server.shutdown()
        server.server_close()


def _repo(root: Path, url: str) -> Path:
    write_files(root, {"Dockerfile": f"FROM bindery/base:bookworm\nADD {url.split('#')[0]} /leaked\n"})
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "remote add")
    return root


def _builder(public: bool) -> Builder:
    settings = Settings()
    settings.builder.image_prefix = PREFIX
    return Builder(settings.builder, make_engine(settings), SourceCatalog(), public=public)


@pytest.mark.engine
def test_public_build_refuses_remote_add_and_fetches_nothing(tmp_path: Path, secret_server) -> None:
    url, requested = secret_server
    repo = _repo(tmp_path / "repo", url)
    builder = _builder(public=True)
    ref = resolve(str(repo))
    with pytest.raises(BuildError) as refused:
        builder.build(ref)
    message = str(refused.value)
    assert "Dockerfile asks the container engine to download files itself" in message
    assert f"ADD {url.split('#')[0]}" in message
    assert requested == []  # the engine never fetched the secret
    assert builder.engine.image_labels(builder.image_name(ref)) is None


@pytest.mark.engine
def test_trusted_build_keeps_remote_add(tmp_path: Path, secret_server) -> None:
    url, requested = secret_server
    repo = _repo(tmp_path / "repo", url)
    builder = _builder(public=False)
    built = builder.build(resolve(str(repo)))
    try:
        assert requested == ["/secret"]
        assert run_in_image(built.name, "cat /leaked").stdout == url.split("#")[1]
    finally:
        builder.engine.remove_image(built.name)
