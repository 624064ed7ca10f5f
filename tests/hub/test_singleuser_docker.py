"""Docker servers behind configurable-http-proxy: a Bindery-built image runs jupyterhub-singleuser.

The image is the builder's default environment (what the hub runs when a request names
no image; built here if this machine has none yet): it carries ``jupyterhub-singleuser`` and the Jupyter config that
gives JupyterLab the hub menu. The container reaches the hub's API as
``host.docker.internal`` (the hub listens on all addresses for it, as JupyterHub's Docker
recipe has it); the test itself only talks to 127.0.0.1.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bindery.hub.proxy.processes import install_chp
from hub.conftest import HubProcess, free_port
from hub.test_singleuser_auth import ARGS, CHROMIUM, _file_menu, _login

pytestmark = [pytest.mark.engine, pytest.mark.browser, pytest.mark.slow]

HUB_ID = f"bindery-test-hub-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def default_image() -> str:
    """The builder's default environment, as the hub runs it (setup.sh builds it; else here)."""
    from bindery.composition import Settings, make_builder, make_engine

    settings = Settings()
    return make_builder(settings, make_engine(settings)).ensure_default_image()


@pytest.fixture
def docker_chp_hub(tmp_path: Path, default_image: str) -> Iterator[HubProcess]:
    import docker

    install_chp()
    hub_port = free_port()
    hub = HubProcess(tmp_path, hub_port=hub_port, extra_env={
        "BINDERY_HUB__PROXY__KIND": "chp",
        "BINDERY_HUB__AUTH__KIND": "password",
        "BINDERY_HUB__SPAWNER__KIND": "docker",
        "BINDERY_HUB__SPAWNER__IMAGE": default_image,
        "BINDERY_HUB__SPAWNER__MEM_LIMIT": "1g",
        "BINDERY_HUB__HUB_ID": HUB_ID,
        "BINDERY_HUB__HUB_IP": "0.0.0.0",
        "BINDERY_HUB__HUB_CONNECT_URL": f"http://host.docker.internal:{hub_port}",
    })
    hub.start()
    try:
        yield hub
    finally:
        hub.stop_all_servers()
        hub.stop()
        client = docker.from_env()
        for container in client.containers.list(all=True, filters={"label": f"bindery.hub={HUB_ID}"}):
            container.remove(force=True)


def log_out_from_jupyterlab(page) -> None:
    """File → Log Out (JupyterLab's hub extension) → the hub's logout page → its button."""
    page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
    labels = page.locator(".lm-Menu-content .lm-Menu-itemLabel", has_text="Log Out")
    deadline = time.monotonic() + 15
    while not any(labels.nth(i).is_visible() for i in range(labels.count())):
        assert time.monotonic() < deadline, "the File menu shows no Log Out"
        time.sleep(0.2)
    next(labels.nth(i) for i in range(labels.count()) if labels.nth(i).is_visible()).click()
    page.wait_for_url(re.compile(r".*/hub/logout.*"))
    page.get_by_test_id("logout").last.click()
    page.wait_for_url(re.compile(r".*/hub/login.*"))


def test_a_docker_server_behind_chp_logs_its_owner_in_through_the_hub(docker_chp_hub):
    from playwright.sync_api import sync_playwright

    hub = docker_chp_hub
    hub.cli("passwd", "dora", env={"BINDERY_NEW_PASSWORD": "dora-password-1"})
    httpx.post(f"{hub.api}/users/dora", headers=hub.headers(), timeout=10)
    started = httpx.post(f"{hub.api}/users/dora/server", headers=hub.headers(), timeout=180)
    assert started.status_code in (201, 202), started.text + hub.log_tail()
    deadline = time.monotonic() + 180
    while not httpx.get(f"{hub.api}/users/dora", headers=hub.headers(),
                        timeout=10).json()["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline, hub.log_tail()
        time.sleep(0.5)
    # Nobody gets in without the hub's say-so (CHP forwards everything).
    assert httpx.get(f"{hub.url}/user/dora/api/status", timeout=10).status_code == 403
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context().new_page()
            page.goto(f"{hub.url}/user/dora/lab")
            page.wait_for_url(re.compile(r".*/hub/login\?next=.*oauth2.*"))
            _login(page, hub, "dora")
            page.wait_for_url(re.compile(r".*/user/dora/lab.*"), timeout=60_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="File").first.wait_for(
                timeout=60_000)
            entries = _file_menu(page)
            assert "Hub Control Panel" in entries and "Log Out" in entries, entries
            assert "Shut Down" not in entries, entries
            log_out_from_jupyterlab(page)
            page.goto(f"{hub.url}/hub/home")
            assert "/hub/login" in page.url  # the hub session ended, not just the server's
        finally:
            browser.close()
