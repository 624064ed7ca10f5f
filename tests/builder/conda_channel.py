"""A local conda channel for tests: tiny packages made by hand, indexed by rattler, served
over HTTP on 127.0.0.1 from a thread (conda channels cannot be reached from this machine).

A package is a ``.tar.bz2`` with ``info/index.json``, ``info/paths.json`` and its files;
files holding the conda build prefix placeholder are marked ``file_mode: text`` so the
client rewrites them to the install prefix, as with real packages.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"


def make_package(channel: Path, name: str, version: str, files: dict[str, bytes],
                 depends: tuple[str, ...] = (), subdir: str = "noarch",
                 links: dict[str, str] | None = None, noarch: str = "generic") -> Path:
    out = channel / subdir
    out.mkdir(parents=True, exist_ok=True)
    index = {"name": name, "version": version, "build": "0", "build_number": 0,
             "depends": list(depends), "subdir": subdir, "license": "MIT",
             "timestamp": int(time.time() * 1000)}
    if subdir == "noarch":
        index["noarch"] = noarch
    entries = []
    for path, data in files.items():
        entry = {"_path": path, "path_type": "hardlink", "size_in_bytes": len(data),
                 "sha256": hashlib.sha256(data).hexdigest()}
        if PLACEHOLDER.encode() in data:
            entry.update(prefix_placeholder=PLACEHOLDER, file_mode="text")
        entries.append(entry)
    for path in links or {}:
        entries.append({"_path": path, "path_type": "softlink"})
    members = {
        "info/index.json": json.dumps(index).encode(),
        "info/paths.json": json.dumps({"paths": entries, "paths_version": 1}).encode(),
        "info/files": ("\n".join([*files, *(links or {})]) + "\n").encode(),
        **files,
    }
    target = out / f"{name}-{version}-0.tar.bz2"
    with tarfile.open(target, "w:bz2") as tar:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o755 if path.startswith("bin/") else 0o644
            tar.addfile(info, io.BytesIO(data))
        for path, link_target in (links or {}).items():
            info = tarfile.TarInfo(path)
            info.type = tarfile.SYMTYPE
            info.linkname = link_target
            tar.addfile(info)
    return target


def index_channel(channel: Path) -> None:
    """Write ``repodata.json`` for noarch and linux-64 with rattler's indexer."""
    from rattler.index import index_fs

    (channel / "noarch").mkdir(parents=True, exist_ok=True)
    (channel / "linux-64").mkdir(parents=True, exist_ok=True)
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False))


def standin_channel(root: Path) -> Path:
    """Channel ``standin`` under ``root``: hello 1.2.3 → hello-lib >=1 (1.0 and 2.0 exist);
    hello-kernel 0.1 → hello, a Jupyter kernelspec naming ``<prefix>/bin/hello``. hello has
    a post-link script that writes ``share/hello/post-link.txt``. python 3.11.2 (linux-64) is
    the image's /usr/bin/python3.11 behind a pyvenv.cfg; hello-py 0.3 is noarch: python."""
    channel = root / "standin"
    make_package(channel, "hello-lib", "1.0", {"share/hello/data.txt": b"lib 1.0\n"})
    make_package(channel, "hello-lib", "2.0", {"share/hello/data.txt": b"lib 2.0\n"})
    make_package(channel, "hello", "1.2.3",
                 {"bin/hello": f"#!/bin/sh\necho hello from {PLACEHOLDER}\n".encode(),
                  # conda's post-link convention; the client must not run it on the host.
                  "bin/.hello-post-link.sh":
                      b'echo "ran for $PKG_NAME" > "$PREFIX/share/hello/post-link.txt"\n'},
                 depends=("hello-lib >=1",))
    kernel = {"argv": [f"{PLACEHOLDER}/bin/hello", "{connection_file}"],
              "display_name": "Hello (stand-in)", "language": "hello"}
    make_package(channel, "hello-kernel", "0.1",
                 {"share/jupyter/kernels/hello/kernel.json": json.dumps(kernel).encode()},
                 depends=("hello",))
    # A "python" that is the image's own interpreter seen as a venv rooted at the prefix
    # (pyvenv.cfg): enough for noarch: python packages, the pip: list and PATH checks.
    make_package(channel, "python", "3.11.2",
                 {"pyvenv.cfg": b"home = /usr/bin\ninclude-system-site-packages = false\n",
                  "lib/python3.11/site-packages/standin_python.pth": b""},
                 subdir="linux-64", links={"bin/python": "/usr/bin/python3.11"})
    make_package(channel, "hello-py", "0.3",
                 {"site-packages/hello_py/__init__.py": b"VERSION = '0.3'\n"},
                 depends=("python",), noarch="python")
    index_channel(channel)
    return channel


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        requests = getattr(self.server, "requests", None)
        if requests is not None:
            requests.append(self.requestline)


@contextmanager
def serve(root: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``root`` on 127.0.0.1; yields (base URL, request lines seen)."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    seen: list[str] = []
    server.requests = seen  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()
