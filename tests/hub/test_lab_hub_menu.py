"""Behind the built-in proxy (edge auth, plain ``jupyter lab``) JupyterLab still knows its hub.

The local spawner gives its servers the same Jupyter config file every image carries
(``bindery.environment.hub_integration``); real Chromium opens JupyterLab through the
hub and finds the hub's entries in the File menu, no Shut Down, and no news prompt.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from hub.test_singleuser_auth import ARGS, CHROMIUM, _file_menu, _login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def hub_env() -> dict[str, str]:
    return {"BINDERY_HUB__AUTH__KIND": "password"}


def test_jupyterlab_started_by_the_hub_has_the_hub_menu_and_no_news_prompt(hub_process):
    from playwright.sync_api import sync_playwright

    hub = hub_process
    hub.cli("passwd", "carol", env={"BINDERY_NEW_PASSWORD": "carol-password-1"})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context().new_page()
            page.goto(f"{hub.url}/hub/login")
            _login(page, hub, "carol")
            page.wait_for_url(re.compile(r".*/hub/home$"))
            page.click("#start-server")
            page.wait_for_url(re.compile(r".*/user/carol/lab.*"), timeout=90_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="File").first.wait_for(
                timeout=60_000)
            entries = _file_menu(page)
            assert "Hub Control Panel" in entries and "Log Out" in entries, entries
            assert "Shut Down" not in entries, entries
            time.sleep(2)  # the news question would have popped up by now
            assert page.get_by_text("official Jupyter news").count() == 0
        finally:
            browser.close()
    assert httpx.get(f"{hub.api}/users/carol", headers=hub.headers(),
                     timeout=10).json()["servers"][""]["ready"]
