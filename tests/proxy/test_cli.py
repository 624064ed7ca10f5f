"""``bindery proxy`` as a user runs it: clear errors for bad options, a working process."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from bindery.hub.proxy.base import ProxyError
from bindery.hub.proxy.processes import ProxyProcess, free_port, process_from_settings
from bindery.hub.proxy.settings import HubProxySettings


def test_bad_option_is_a_usage_error_not_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bindery.proxy", "--default-target", "nonsense"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "--default-target: must be an http:// or https:// URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_is_reported() -> None:
    with ProxyProcess() as first:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bindery.proxy",
                "--port",
                str(first.port),
                "--api-port",
                str(free_port()),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode != 0
    assert "proxy could not listen" in done.stderr
    assert "Traceback" not in done.stderr


def test_process_serves_health_and_default_target() -> None:
    with ProxyProcess(default_target="http://127.0.0.1:9") as proc:
        health = httpx.get(f"{proc.public_url}/_chp_healthz", trust_env=False)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        routes = httpx.get(
            f"{proc.api_url}/api/routes",
            trust_env=False,
            headers={"Authorization": f"token {proc.auth_token}"},
        ).json()
        assert routes["/"]["target"] == "http://127.0.0.1:9"


def test_process_from_settings_picks_the_kind() -> None:
    builtin = process_from_settings(
        HubProxySettings(auth_token="t"),
        port=1234,
        auth_url="http://127.0.0.1:8081/hub/api/proxy/authorize",
    )
    assert isinstance(builtin, ProxyProcess)
    assert "--auth-url" in builtin.command() and builtin.auth_token == "t"
    assert process_from_settings(HubProxySettings(kind="external")) is None
    with pytest.raises(ProxyError, match="edge authentication"):
        process_from_settings(HubProxySettings(kind="chp"), auth_url="http://127.0.0.1:8081/a")
