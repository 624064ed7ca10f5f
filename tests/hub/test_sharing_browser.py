"""Sharing in real Chromium through the real proxy: alice shares her running server with
bob from her home page, bob opens it from his; carol comes in through an invitation link."""

from __future__ import annotations

import re

import httpx
import pytest

from hub.test_browser import ARGS, CHROMIUM, _login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def hub_env() -> dict[str, str]:
    return {"BINDERY_HUB__AUTH__KIND": "password"}


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def test_share_from_the_home_page_and_through_an_invitation_link(hub_process, browser):
    hub = hub_process
    for name in ("alice", "bob", "carol"):
        hub.cli("passwd", name, env={"BINDERY_NEW_PASSWORD": f"{name}-password-1"})
    httpx.post(f"{hub.api}/users", headers=hub.headers(), timeout=10,
               json={"usernames": ["alice", "bob", "carol"]})
    started = httpx.post(f"{hub.api}/users/alice/server", headers=hub.headers(), timeout=90)
    assert started.status_code == 201

    bob = browser.new_context().new_page()
    _login(bob, hub, "bob", "bob-password-1")
    bob.wait_for_url(re.compile(r".*/hub/home$"))
    assert bob.goto(f"{hub.url}/user/alice/lab").status in (403, 404)

    alice = browser.new_context().new_page()
    _login(alice, hub, "alice", "alice-password-1")
    alice.wait_for_url(re.compile(r".*/hub/home$"))
    alice.fill("#share-form input[name=with]", "Bob")
    alice.click("#share-button")
    alice.wait_for_url(re.compile(r".*/hub/home\?note=.*"))
    assert "user bob" in alice.locator("#my-shares").inner_text()

    bob.goto(f"{hub.url}/hub/home")
    bob.locator("#shared-with-me a", has_text="alice").click()
    bob.wait_for_url(re.compile(r".*/user/alice/.*"), timeout=30_000)
    assert "Jupyter" in bob.content()

    alice.click("#share-code-button")
    link = alice.locator("#share-link").input_value()
    assert "/hub/accept-share?code=" in link
    carol = browser.new_context().new_page()
    carol.goto(link)
    carol.wait_for_url(re.compile(r".*/hub/login.*"))
    carol.fill("input[name=username]", "carol")
    carol.fill("input[name=password]", "carol-password-1")
    carol.click("button[type=submit]")
    carol.wait_for_url(re.compile(r".*/hub/accept-share\?code=.*"))
    carol.click("#accept-share")
    carol.wait_for_url(re.compile(r".*/user/alice/.*"), timeout=30_000)
    assert "Jupyter" in carol.content()
