"""Behind the built-in proxy (edge auth, plain ``jupyter lab``) JupyterLab still knows its hub.

A Docker server from Bindery's default image (its ``/etc/jupyter`` config files, see
``bindery.environment.hub_integration``); real Chromium opens JupyterLab through the hub
and finds the hub's entries in the File menu, no Shut Down and no news prompt, and Log
Out there ends the hub session.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.conftest import HubProcess
from hub.test_singleuser_auth import ARGS, CHROMIUM, _file_menu, _login
from hub.test_singleuser_docker import default_image, log_out_from_jupyterlab  # noqa: F401

pytestmark = [pytest.mark.engine, pytest.mark.browser, pytest.mark.slow]

HUB_ID = f"bindery-test-hub-{secrets.token_hex(4)}"


@pytest.fixture
def docker_hub(tmp_path: Path, default_image: str) -> Iterator[HubProcess]:  # noqa: F811
    import docker

    hub = HubProcess(tmp_path, extra_env={
        "BINDERY_HUB__AUTH__KIND": "password",
        "BINDERY_HUB__SPAWNER__KIND": "docker",
        "BINDERY_HUB__SPAWNER__IMAGE": default_image,
        "BINDERY_HUB__SPAWNER__MEM_LIMIT": "1g",
        "BINDERY_HUB__HUB_ID": HUB_ID,
    })
    hub.start()
    try:
        yield hub
    finally:
        hub.stop_all_servers()
        hub.stop()
        for container in docker.from_env().containers.list(
                all=True, filters={"label": f"bindery.hub={HUB_ID}"}):
            container.remove(force=True)


def test_jupyterlab_started_by_the_hub_has_the_hub_menu_and_no_news_prompt(docker_hub):
    from playwright.sync_api import sync_playwright

    hub = docker_hub
    hub.cli("passwd", "carol", env={"BINDERY_NEW_PASSWORD": "carol-password-1"})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context().new_page()
            page.goto(f"{hub.url}/hub/login")
            _login(page, hub, "carol")
            page.wait_for_url(re.compile(r".*/hub/home$"))
            page.click("#start-server")
            page.wait_for_url(re.compile(r".*/user/carol/lab.*"), timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="File").first.wait_for(
                timeout=60_000)
            entries = _file_menu(page)
            assert "Hub Control Panel" in entries and "Log Out" in entries, entries
            assert "Shut Down" not in entries, entries
            time.sleep(2)  # the news question would have popped up by now
            assert page.get_by_text("official Jupyter news").count() == 0
            log_out_from_jupyterlab(page)
            page.goto(f"{hub.url}/hub/home")
            assert "/hub/login" in page.url
        finally:
            browser.close()
