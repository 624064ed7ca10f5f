"""The hub's pages in real headless Chromium: log in, start a server, land in it; admin stops it."""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import page_xsrf

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def hub_env() -> dict[str, str]:
    return {"BINDERY_HUB__AUTH__KIND": "password", "BINDERY_HUB__AUTH__ADMIN_USERS": '["boss"]'}


@pytest.fixture
def browser():
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _login(page, hub, name: str, password: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_login_start_server_land_in_it_and_admin_stops_it(hub_process, browser):
    hub = hub_process
    hub.cli("passwd", "alice", env={"BINDERY_NEW_PASSWORD": "alice-password-1"})
    hub.cli("passwd", "boss", env={"BINDERY_NEW_PASSWORD": "boss-password-1"})

    alice = browser.new_context().new_page()
    _login(alice, hub, "alice", "wrong-password")
    assert alice.locator(".error").inner_text() == "Invalid user name or password."
    _login(alice, hub, "alice", "alice-password-1")
    alice.wait_for_url(re.compile(r".*/hub/home$"))
    assert alice.get_by_test_id("who").inner_text() == "alice"
    alice.click("#start-server")
    # spawn-pending follows the progress stream and then opens the server.
    alice.wait_for_url(re.compile(r".*/user/alice/.*"), timeout=90_000)
    assert "Jupyter" in alice.content()
    assert alice.context.cookies()  # logged in by cookie; the server token never reached the page
    assert "server_token" not in alice.content()

    boss = browser.new_context().new_page()
    _login(boss, hub, "boss", "boss-password-1")
    boss.wait_for_url(re.compile(r".*/hub/home$"))
    boss.goto(f"{hub.url}/hub/admin")
    row = boss.locator("tr[data-user=alice]")
    assert "running" in row.inner_text()
    row.locator("button", has_text="stop").click()
    boss.wait_for_url(re.compile(r".*/hub/admin$"))
    assert "none" in boss.locator("tr[data-user=alice]").inner_text()
    user = httpx.get(f"{hub.api}/users/alice", headers=hub.headers(), timeout=10).json()
    assert user["servers"] == {}

    # alice is not an admin: the admin page refuses her.
    alice.goto(f"{hub.url}/hub/admin")
    assert "Only admins" in alice.content()


def test_login_form_without_xsrf_is_refused(hub_process):
    answer = httpx.post(
        f"{hub_process.url}/hub/login", data={"username": "x", "password": "y"}, timeout=10
    )
    assert answer.status_code == 403
    assert "XSRF" in answer.text


def test_repeated_wrong_passwords_are_rate_limited(hub_process):
    with httpx.Client(base_url=hub_process.url, timeout=10) as http:
        xsrf = page_xsrf(http, "/hub/login")
        codes = [
            http.post(
                "/hub/login", data={"username": "mallory", "password": f"guess{i}", "_xsrf": xsrf}
            ).status_code
            for i in range(7)
        ]
    assert codes[:5] == [403] * 5 and codes[-1] == 429


def test_named_servers_from_the_home_page(hub_process, browser):
    hub = hub_process
    hub.cli("passwd", "nora", env={"BINDERY_NEW_PASSWORD": "nora-password-1"})
    page = browser.new_context().new_page()
    _login(page, hub, "nora", "nora-password-1")
    page.wait_for_url(re.compile(r".*/hub/home$"))
    page.fill("input[name=server_name][required]", "proj")
    page.click("text=Create and start")
    page.wait_for_url(re.compile(r".*/user/nora/proj/.*"), timeout=90_000)
    page.goto(f"{hub.url}/hub/home")
    row = page.locator("tr[data-server=proj]")
    assert "running" in row.inner_text()
    row.locator("button", has_text="stop").click()
    page.wait_for_url(re.compile(r".*/hub/home$"))
    assert "stopped" in page.locator("tr[data-server=proj]").inner_text()
    page.locator("tr[data-server=proj] button", has_text="delete").click()
    page.wait_for_url(re.compile(r".*/hub/home$"))
    assert page.locator("tr[data-server=proj]").count() == 0
    # The default server was never touched.
    assert "not running" in page.content()
