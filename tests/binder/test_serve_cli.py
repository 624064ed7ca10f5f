"""``bindery serve`` as a user runs it: one command, the address printed, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import free_port

pytestmark = [pytest.mark.engine]


def test_serve_starts_everything_prints_the_address_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    env = {**os.environ, "BINDERY_BINDER__DATA_DIR": str(tmp_path / "data"),
           "BINDERY_BUILDER__IMAGE_PREFIX": "bindery-test-binder"}
    proc = subprocess.Popen([sys.executable, "-m", "bindery.cli", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=tmp_path)
    base = f"http://127.0.0.1:{port}/"
    try:
        line = ""
        deadline = time.monotonic() + 90
        while "serving at" not in line:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "serve exited early"
            assert time.monotonic() < deadline
        assert base in line
        with httpx.Client(trust_env=False, timeout=30) as http:
            page = http.get(base)
            assert page.status_code == 200 and 'id="repository"' in page.text
            health = http.get(base + "health").json()
            assert {c["service"]: c["ok"] for c in health["checks"]} == {
                "Container engine": True, "Hub": True, "Capacity": True}
            assert http.get(base + "hub/api/").status_code == 200  # the hub, through the proxy
            assert http.get(base + "badge_logo.svg").headers["content-type"].startswith(
                "image/svg+xml")
            # Not allowed by default: a local repository (no server-side request forgery).
            with http.stream("GET", base + "build/git/file%3A%2F%2F%2Fetc/HEAD") as stream:
                body = "".join(stream.iter_text())
            assert '"phase": "failed"' in body and "local" in body.lower()
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(60)
    assert code == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
