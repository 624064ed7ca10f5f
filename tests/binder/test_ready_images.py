"""``/v2/image/<reference>``: launching an allow-listed, ready-made image without a build.

The image is a local tag of a base image (no registry is reachable here); the hub is
``fake_hub`` (a stand-in REST API that records what it was asked to start).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import docker
import httpx
import pytest

from .conftest import read_events

READY = "registry.bindery.test/course/base:2024-01"


@pytest.fixture(scope="module")
def ready_image() -> Iterator[str]:
    client = docker.from_env()
    client.images.get("bindery/base:bookworm").tag(READY)
    yield READY
    client.images.remove(READY, noprune=True)


def phases(events: list[dict]) -> list[str]:
    return [e["phase"] for e in events]


@pytest.mark.engine
def test_an_allow_listed_image_launches_without_a_build(binder, ready_image):
    url, app = binder(ready_images=["registry.bindery.test/course/*"])
    events = read_events(url + "build/image/" + quote(ready_image, safe=""))
    assert phases(events)[0] == "built" and phases(events)[-1] == "ready", events
    ready = events[-1]
    assert ready["image"] == ready_image
    assert ready["binder_request"] == "v2/image/" + quote(ready_image, safe="")
    user = ready["url"].rstrip("/").rsplit("/", 1)[-1]
    assert binder.hub.users[user]["options"] == {"image": ready_image}
    assert app.state.service.builds.started == 0
    ids = [p["id"] for p in httpx.get(url + "api/repoproviders", trust_env=False).json()]
    assert "image" in ids
    page = httpx.get(url + "v2/image/" + quote(ready_image, safe=""), trust_env=False)
    assert page.status_code == 200


@pytest.mark.engine
@pytest.mark.parametrize("reference, words", [
    ("registry.bindery.test/other/base:2024-01", "must match [binder] ready_images"),
    ("registry.bindery.test/course/base", "names no tag or digest"),
    ("registry.bindery.test/course/../x:1", "is not a container image reference"),
])
def test_other_images_are_refused_before_anything_runs(binder, ready_image, reference, words):
    url, app = binder(ready_images=["registry.bindery.test/course/*"])
    events = read_events(url + "build/image/" + quote(reference, safe=""))
    assert phases(events) == ["failed"], events
    assert words in events[-1]["message"]
    assert binder.hub.users == {}


@pytest.mark.engine
def test_a_missing_image_is_pulled_and_a_failed_pull_says_so(binder):
    url, _ = binder(ready_images=["registry.invalid/*"])
    events = read_events(url + "build/image/" + quote("registry.invalid/team/img:1", safe=""),
                         timeout=120)
    assert phases(events) == ["fetching", "failed"], events
    assert "registry.invalid/team/img:1" in events[-1]["message"]


def test_without_an_allow_list_there_is_no_image_provider(binder):
    url, _ = binder()
    events = read_events(url + "build/image/" + quote(READY, safe=""))
    assert phases(events) == ["failed"]
    assert "not a repository provider" in events[-1]["message"]
    ids = [p["id"] for p in httpx.get(url + "api/repoproviders", trust_env=False).json()]
    assert "image" not in ids
