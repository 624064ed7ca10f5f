"""The one launch protocol on the hub (``HubClient.launch``), against ``fake_hub``."""

from __future__ import annotations

import asyncio

import pytest

from bindery.binder.hub_client import HubClient, HubError, ProgressNote, RetryNote, ServerReady


def launch_steps(hub_url: str, user: str, image: str = "img:1") -> list[object]:
    async def run() -> list[object]:
        client = HubClient(hub_url, "secret")
        try:
            return [step async for step in client.launch(user, image, timeout=30)]
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_a_launch_creates_the_user_starts_the_image_and_ends_ready(fake_hub):
    hub, hub_url = fake_hub
    hub.busy_starts = 1
    steps = launch_steps(hub_url, "tmp-a")
    assert isinstance(steps[0], RetryNote) and "trying again" in steps[0].message
    assert steps[1] == ProgressNote("Starting the container\n", 50)
    assert steps[-1] == ServerReady("user/tmp-a/")
    assert hub.users["tmp-a"]["options"] == {"image": "img:1"}


def test_a_failed_start_is_explained_and_its_user_removed(fake_hub):
    hub, hub_url = fake_hub
    hub.fail_spawn = True
    with pytest.raises(HubError, match="failed to start: no room"):
        launch_steps(hub_url, "tmp-b")
    assert "tmp-b" not in hub.users and hub.deleted == ["tmp-b"]
