"""``bindery serve`` under real signals: side by side on two data directories, one per
directory, every server stopped on SIGTERM/SIGINT, a second signal forcing, a restart
after a forced exit cleaning up what the killed run left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import containers, wait_for

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_two_serves_side_by_side_one_per_data_dir_and_signals_stop_every_server(
        make_serve, docker_engine):
    first = make_serve("first", extra_args=("--log-format", "json"))
    second = make_serve("second")
    first.start()
    second.start()
    # Both answer on their own ports, each with its own hub.
    with httpx.Client(trust_env=False, timeout=30) as http:
        for serve in (first, second):
            assert http.get(f"{serve.url}/hub/api/", headers=serve.headers()).status_code == 200

    # A third instance on the first one's data directory is refused, naming it and the pid.
    third = make_serve("first")
    refused = third.run()
    out, _ = refused.communicate(timeout=60)
    assert refused.returncode == 1
    assert str(first.data_dir) in out and f"pid {first.process.pid}" in out
    assert "--data-dir" in out and "Traceback" not in out

    # Servers on both; a request id sent with a start is logged by the hub and the proxy.
    rid = "ops-test-start-1"
    with httpx.Client(trust_env=False, timeout=120) as http:
        http.post(f"{first.url}/hub/api/users/ann", headers=first.headers())
        answer = http.post(f"{first.url}/hub/api/users/ann/server",
                           headers=first.headers(**{"X-Request-Id": rid}))
        assert answer.status_code == 201, answer.text
        assert answer.headers["x-request-id"] == rid
        # binder → hub: the binder's health check asks the hub, carrying the caller's id.
        assert http.get(f"{first.url}/health", headers={"X-Request-Id": "ops-health-1"}
                        ).status_code == 200
    first.start_server("bea")
    second.start_server("cid")
    assert len(containers(docker_engine, first.hub_id)) == 2
    assert len(containers(docker_engine, second.hub_id)) == 1

    # `bindery status` on the first data directory: the instance, its servers and routes.
    status = subprocess.run(
        [sys.executable, "-m", "bindery.cli", "status", "--data-dir", str(first.data_dir), "--json"],
        env=first.env(), capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(status.stdout)
    assert report["instance"]["pid"] == first.process.pid
    assert report["instance"]["command"] == "bindery serve"
    assert {(s["user"], s["status"]) for s in report["servers"]} >= {("ann", "running"),
                                                                     ("bea", "running")}
    assert {"/user/ann", "/user/bea"} <= set(report["routes"])

    # SIGTERM stops the first one and all its servers; the second is untouched.
    began = time.monotonic()
    first.process.send_signal(signal.SIGTERM)
    code, output = first.finish(timeout=60)
    took = time.monotonic() - began
    assert code == 0, output
    assert "Traceback" not in output
    assert containers(docker_engine, first.hub_id, running_only=False) == []
    assert took < 30, f"stopping took {took:.1f} s"
    print(f"SIGTERM to exit, two servers stopped: {took:.1f} s")
    assert len(containers(docker_engine, second.hub_id)) == 1

    # JSON logs of the first instance: the request ids, in the hub's and the proxy's lines.
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(entry.get("request_id") == rid for entry in lines), output[-3000:]
    assert any(entry.get("request_id") == "ops-health-1" and entry["logger"].startswith(
        "bindery.hub") for entry in lines), output[-3000:]
    proxy_lines = [json.loads(line) for line in
                   (first.data_dir / "proxy.log").read_text().splitlines() if line.startswith("{")]
    assert any(entry.get("request_id") == rid and "route added /user/ann" in entry["message"]
               for entry in proxy_lines)

    # SIGINT (Ctrl-C) does the same for the second.
    second.process.send_signal(signal.SIGINT)
    code, output = second.finish(timeout=60)
    assert code == 0 and "Traceback" not in output, output
    assert containers(docker_engine, second.hub_id, running_only=False) == []


def test_a_second_signal_forces_exit_and_the_next_start_cleans_up(make_serve, docker_engine):
    serve = make_serve("forced")
    serve.start()
    serve.start_server("dan")
    proxy_pid = json.loads((serve.data_dir / "bindery-proxy.json").read_text())["pid"]
    serve.process.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    serve.process.send_signal(signal.SIGTERM)
    code, output = serve.finish(timeout=30)
    assert code == 128 + signal.SIGTERM, output
    assert "Exiting at once" in output and "Traceback" not in output

    # The next start on the same data directory and port replaces the proxy the forced
    # exit left, finds the server again if it survived, and stops everything on SIGTERM.
    serve.start()
    wait_for(lambda: not _alive(proxy_pid), 10, "the old proxy to be replaced")
    with httpx.Client(trust_env=False, timeout=30) as http:
        assert http.get(f"{serve.url}/hub/api/", headers=serve.headers()).status_code == 200
    serve.process.send_signal(signal.SIGTERM)
    code, output = serve.finish(timeout=60)
    assert code == 0 and "Traceback" not in output, output
    assert containers(docker_engine, serve.hub_id, running_only=False) == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
