"""The hub as OAuth provider, driven by JupyterHub's own client code (``HubOAuth``, ``HubAuth``).

A real service written only with ``jupyterhub.services.auth`` runs as a subprocess on
127.0.0.1 and logs a person in through the hub in real Chromium; ``HubAuth`` asks the
hub about good and bad tokens exactly as every JupyterHub service does.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.conftest import HubProcess, free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SERVICE = Path(__file__).with_name("oauth_service.py")
SERVICE_TOKEN = secrets.token_hex(32)
SERVICE_PORT = free_port()
PREFIX = "/services/whoami/"
CALLBACK = f"http://127.0.0.1:{SERVICE_PORT}{PREFIX}oauth_callback"


@pytest.fixture
def hub_env() -> dict[str, str]:
    service = {"name": "whoami", "url": f"http://127.0.0.1:{SERVICE_PORT}",
               "api_token": SERVICE_TOKEN, "oauth_redirect_uri": CALLBACK}
    return {
        "BINDERY_HUB__AUTH__KIND": "password",
        "BINDERY_HUB__SERVICES": json.dumps([service]),
        # JupyterHub's way of letting every user use services (its default user role has none).
        "BINDERY_HUB__EXTRA_USER_SCOPES": '["access:services"]',
    }


@pytest.fixture
def service(hub_process: HubProcess) -> Iterator[str]:
    hub = hub_process
    env = {
        "PATH": "/usr/bin:/bin",
        "JUPYTERHUB_API_TOKEN": SERVICE_TOKEN,
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub.hub_port}/hub/api",
        "JUPYTERHUB_CLIENT_ID": "service-whoami",
        "JUPYTERHUB_SERVICE_NAME": "whoami",
        "JUPYTERHUB_SERVICE_PREFIX": PREFIX,
        "JUPYTERHUB_OAUTH_CALLBACK_URL": CALLBACK,
        # Where browsers find the hub (the public proxy); the service runs on its own port.
        "JUPYTERHUB_HOST": hub.url,
        "JUPYTERHUB_BASE_URL": "/",
        "SERVICE_PORT": str(SERVICE_PORT),
    }
    log = open(hub.tmp_path / "service.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([sys.executable, str(SERVICE)], env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{SERVICE_PORT}{PREFIX}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (hub.tmp_path / "service.log").read_text()
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@pytest.mark.browser
@pytest.mark.slow
def test_a_hub_oauth_service_logs_a_person_in_through_the_hub(hub_process, service):
    from playwright.sync_api import sync_playwright

    hub = hub_process
    hub.cli("passwd", "alice", env={"BINDERY_NEW_PASSWORD": "alice-password-1"})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context().new_page()
            page.goto(service)
            # The service sent the browser to the hub, which wants a login first.
            page.wait_for_url(re.compile(r".*/hub/login\?next=.*oauth2.*"))
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "alice-password-1")
            page.click("button[type=submit]")
            # A service the deployment did not mark oauth_no_confirm: the hub asks first.
            page.wait_for_url(re.compile(r".*/hub/api/oauth2/authorize\?.*"))
            assert page.get_by_test_id("oauth-client").inner_text() == "Service whoami"
            page.get_by_test_id("authorize").click()
            page.wait_for_url(re.compile(rf".*:{SERVICE_PORT}{PREFIX}$"))
            assert page.locator("#hello").inner_text() == "Hello alice"
            model = json.loads(page.locator("#model").inner_text())
            assert "access:services!service=whoami" in model["scopes"]

            # A second login (the service forgot its cookie) needs no consent: alice holds a
            # token of this service covering the same scopes.
            page.context.clear_cookies(name="jupyterhub-services")
            page.goto(service)
            page.wait_for_url(re.compile(rf".*:{SERVICE_PORT}{PREFIX}$"))
            assert page.locator("#hello").inner_text() == "Hello alice"
        finally:
            browser.close()


def test_hub_auth_user_for_token_good_and_bad(hub_process):
    from jupyterhub.services.auth import HubAuth

    hub = hub_process
    httpx.post(f"{hub.api}/users/alice", headers=hub.headers(), timeout=10)
    alice_token = httpx.post(f"{hub.api}/users/alice/tokens", headers=hub.headers(),
                             json={}, timeout=10).json()["token"]
    auth = HubAuth(api_url=f"http://127.0.0.1:{hub.hub_port}/hub/api", api_token=SERVICE_TOKEN,
                   cache_max_age=0)
    model = auth.user_for_token(alice_token, use_cache=False)
    assert model is not None and model["name"] == "alice"
    # An unknown token is "nobody" (JupyterHub answers 403), not an error of the service.
    assert auth.user_for_token("not-a-token-" + secrets.token_hex(8), use_cache=False) is None
    assert httpx.get(f"{hub.api}/user", headers={"Authorization": "token nope"},
                     timeout=10).status_code == 403
