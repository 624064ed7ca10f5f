"""Record sources that name their own host (CKAN) must not become an SSRF tool.

A CKAN spec carries any site's URL, and a CKAN dataset lists resource URLs that may
point anywhere. So: a public binder refuses a CKAN site on this machine or a private
network before contacting it (like a git URL), and in every mode resources are only
downloaded from the CKAN site itself. Servers here are plain HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from binder.conftest import read_events

from bindery.errors import SourceError
from bindery.sources.ckan import CkanSource


class _Site(BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.seen.append(self.path)
        body = self.routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def ckan_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    port = server.server_address[1]
    # The resource points at "another host": the same server under the name localhost.
    _Site.routes = {
        "/api/3/action/status_show": json.dumps({"success": True}).encode(),
        "/api/3/action/package_show?id=leaky": json.dumps({"success": True, "result": {
            "metadata_modified": "2022-01-01T00:00:00",
            "resources": [{"id": "r1", "url": f"http://localhost:{port}/internal/secret"}]}}).encode(),
        "/internal/secret": b"internal secret\n",
    }
    _Site.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_ckan_resources_on_another_host_are_refused(ckan_site: str, tmp_path: Path) -> None:
    source = CkanSource()
    ref = source.resolve(f"ckan:{ckan_site}/dataset/leaky")
    with pytest.raises(SourceError, match="not ckan's own server"):
        source.fetch(ref, tmp_path / "out")
    assert "/internal/secret" not in _Site.seen
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_public_binder_refuses_a_ckan_site_on_this_machine(binder, ckan_site: str) -> None:
    url, _ = binder(allow_local_repos=False)
    events = read_events(url + "build/ckan/" + quote(f"{ckan_site}/dataset/leaky", safe=""))
    assert [e["phase"] for e in events] == ["failed"]
    assert "on this machine or a private network" in events[-1]["message"]
    assert _Site.seen == []  # nothing was contacted
