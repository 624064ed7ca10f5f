"""With configurable-http-proxy (no edge auth) servers check users against the hub themselves.

The hub runs the real CHP from npm; servers are real ``jupyterhub-singleuser`` processes
(JupyterHub's own, from PyPI) started by the local spawner. A person reaches their
server in real Chromium through JupyterHub's OAuth dance with the hub; another user is
refused. (JupyterLab's hub menu is checked in Bindery's images:
``test_singleuser_docker.py``, ``test_lab_hub_menu.py``.)
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from bindery.hub.proxy.processes import install_chp

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def hub_env() -> dict[str, str]:
    install_chp()  # `bash scripts/setup.sh --dev` installs it; this too when run alone (npm)
    return {"BINDERY_HUB__PROXY__KIND": "chp", "BINDERY_HUB__AUTH__KIND": "password"}


def _login(page, hub, name: str) -> None:
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", f"{name}-password-1")
    page.click("button[type=submit]")


def _file_menu(page) -> list[str]:
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    page.locator(".lm-Menu-content").first.wait_for()
    labels = page.locator(".lm-Menu-content .lm-Menu-itemLabel")
    texts = [labels.nth(i).inner_text() for i in range(labels.count())
             if labels.nth(i).is_visible()]
    page.keyboard.press("Escape")
    return texts


def test_behind_chp_a_person_logs_in_to_their_own_server_and_others_are_refused(hub_process):
    from playwright.sync_api import sync_playwright

    hub = hub_process
    for name in ("alice", "bob"):
        hub.cli("passwd", name, env={"BINDERY_NEW_PASSWORD": f"{name}-password-1"})
        httpx.post(f"{hub.api}/users/{name}", headers=hub.headers(), timeout=10)
    started = httpx.post(f"{hub.api}/users/alice/server", headers=hub.headers(), timeout=90)
    assert started.status_code in (201, 202), hub.log_tail()
    deadline = time.monotonic() + 90
    while not httpx.get(f"{hub.api}/users/alice", headers=hub.headers(),
                        timeout=10).json()["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline, hub.log_tail()
        time.sleep(0.5)

    # Programs: a token allowed to use alice's servers gets in, bob's does not (CHP forwards
    # both; jupyterhub-singleuser asks the hub who they are).
    def token(user: str, scopes: list[str] | None = None) -> str:
        body = {"scopes": scopes} if scopes else {}
        return httpx.post(f"{hub.api}/users/{user}/tokens", headers=hub.headers(), json=body,
                          timeout=10).json()["token"]

    status = f"{hub.url}/user/alice/api/status"
    alice_token = token("alice", ["access:servers!user=alice"])
    assert httpx.get(status, headers={"Authorization": f"token {alice_token}"},
                     timeout=10).status_code == 200
    bob_token = token("bob", ["access:servers!user=bob"])
    assert httpx.get(status, headers={"Authorization": f"token {bob_token}"},
                     timeout=10).status_code == 403
    assert httpx.get(status, timeout=10).status_code == 403

    (hub.tmp_path / "users" / "alice").mkdir(parents=True, exist_ok=True)
    (hub.tmp_path / "users" / "alice" / "hello.txt").write_text("alice's file\n")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            alice = browser.new_context().new_page()
            alice.goto(f"{hub.url}/user/alice/files/hello.txt")
            # The server sent the browser to the hub's OAuth endpoint, which wants a login.
            alice.wait_for_url(re.compile(r".*/hub/login\?next=.*oauth2.*"))
            _login(alice, hub, "alice")
            # Her own server: no consent page, straight back to the file she asked for.
            alice.wait_for_url(re.compile(r".*/user/alice/files/hello\.txt$"), timeout=60_000)
            assert "alice's file" in alice.content()
            # The server's login is its own cookie (path /user/alice/), not the hub's.
            names = {c["name"]: c["path"] for c in alice.context.cookies()}
            assert names.get("jupyterhub-user-alice") == "/user/alice/", names

            bob = browser.new_context().new_page()
            bob.goto(f"{hub.url}/hub/login")
            _login(bob, hub, "bob")
            bob.wait_for_url(re.compile(r".*/hub/home$"))
            answer = bob.goto(f"{hub.url}/user/alice/files/hello.txt")
            assert answer is not None
            # The hub refuses to let bob authorize alice's server (JupyterHub's 403).
            assert answer.status == 403 and "/hub/api/oauth2/authorize" in bob.url
            assert "You do not have permission" in bob.content()
            assert "alice's file" not in bob.content()
        finally:
            browser.close()
