"""BinderHub's own JavaScript client (``@jupyterhub/binderhub-client`` from npm) as the oracle.

The client follows ``/build`` with fetch-event-source; if the server closes the stream
before the client does, it reports ``failed: Event stream closed unexpectedly`` (and an
EventSource-based page would reconnect and launch again). BinderHub therefore keeps the
stream open after ``ready``; so must Bindery. The hub is ``fake_hub`` (a stand-in REST
API): what is checked here is the stream, with the real builder and engine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from .test_stream import NOTEBOOK

SCRIPT = Path(__file__).parents[1] / "js" / "binder_stream.mjs"


def follow_with_official_client(url: str, spec: str, close_delay_ms: int,
                                build_only: bool = False) -> list[dict]:
    node = shutil.which("node")
    assert node, "node is installed by scripts/setup.sh --dev"
    assert (SCRIPT.parent / "node_modules" / "@jupyterhub" / "binderhub-client").is_dir(), \
        "run scripts/setup.sh --dev: it installs tests/js's npm packages"
    done = subprocess.run(
        [node, str(SCRIPT), url + "build/", spec, str(close_delay_ms)]
        + (["build_only"] if build_only else []),
        capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.mark.engine
@pytest.mark.slow
def test_official_client_sees_ready_and_no_unexpected_close(binder, git_server):
    repo = git_server.publish({"index.ipynb": NOTEBOOK, "README.md": "official client"})
    url, _ = binder(stream_linger=8.0)
    spec = f"git/{quote(repo, safe='')}/HEAD"
    # The client waits 2 s after `ready` before it closes: the stream must still be open.
    events = follow_with_official_client(url, spec, close_delay_ms=2000)
    phases = [e["phase"] for e in events]
    assert phases[-1] == "ready", events[-3:]
    assert "failed" not in phases, events
    ready = events[-1]
    assert ready["binder_client_ip"] == "127.0.0.1"
    assert ready["url"].startswith(url) and ready["token"]

    # A cached build_only answers with BinderHub's single event.
    events = follow_with_official_client(url, spec, close_delay_ms=500, build_only=True)
    assert [e["phase"] for e in events] == ["ready"], events
    assert events[0]["message"] == "Done! Found built image\n"


@pytest.mark.engine
def test_a_server_that_closes_first_is_reported_by_the_official_client(binder, git_server):
    """The oracle check: with no linger the same client reports the close as a failure,
    so the test above can fail."""
    repo = git_server.publish({"index.ipynb": NOTEBOOK, "README.md": "closes first"})
    url, _ = binder(stream_linger=0.0)
    spec = f"git/{quote(repo, safe='')}/HEAD"
    events = follow_with_official_client(url, spec, close_delay_ms=2000, build_only=True)
    assert any(e["phase"] == "failed" and "closed unexpectedly" in e["message"] for e in events), events
