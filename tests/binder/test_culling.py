"""Temporary users and their servers go away after the idle timeout, and free their place."""

from __future__ import annotations

import time
from urllib.parse import quote

import httpx
import pytest

from bindery.composition import Settings

from .conftest import PREFIX, StackThread, read_events

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def test_idle_temporary_users_are_culled_and_removed(git_server, tmp_path):
    s = Settings()
    s.builder.image_prefix = PREFIX
    s.builder.work_dir = tmp_path / "work"
    s.allow_local_repos = True
    s.binder.data_dir = str(tmp_path / "data")
    s.binder.warm_pool_size = 0
    s.binder.cull_idle_timeout = 4
    s.binder.cull_every = 1
    s.binder.reconcile_every = 1
    s.hub.activity_poll_interval = 1
    s.hub.spawner.mem_limit = "512m"
    stack = StackThread(s).start()
    try:
        repo = git_server.publish({"README.md": "culled"})
        ready = read_events(stack.url + "build/git/" + quote(repo, safe="") + "/HEAD")[-1]
        assert ready["phase"] == "ready"
        user = ready["url"].rstrip("/").rsplit("/", 1)[-1]
        assert stack.service.queue.count() == 1
        deadline = time.monotonic() + 90
        names = {user}
        while time.monotonic() < deadline:
            names = {u["name"] for u in stack.call(stack.service.hub.list_users())}
            if user not in names:
                break
            time.sleep(1)
        assert user not in names, "the idle temporary user was not removed"
        gone = httpx.get(ready["url"] + "api/status", params={"token": ready["token"]},
                         trust_env=False, timeout=30, follow_redirects=False)
        assert gone.status_code != 200
        while stack.service.queue.count() and time.monotonic() < deadline:
            time.sleep(0.5)  # the binder notices at its next reconcile
        assert stack.service.queue.count() == 0
    finally:
        stack.stop()
