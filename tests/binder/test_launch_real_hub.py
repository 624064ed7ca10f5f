"""Launches through the whole ``bindery serve`` stack: real proxy, real hub, Docker
spawner, real images. Servers are checked through the proxy on 127.0.0.1 only."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import quote

import httpx
import pytest

from .conftest import read_events

pytestmark = [pytest.mark.engine, pytest.mark.slow]

NOTEBOOK = json.dumps({
    "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
               "outputs": [], "source": ["print(6 * 7)"]}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5})


def git_spec(url: str, ref: str = "HEAD") -> str:
    return f"git/{quote(url, safe='')}/{quote(ref, safe='/')}"


def server_answers(ready: dict) -> int:
    response = httpx.get(ready["url"] + "api/status", params={"token": ready["token"]},
                         timeout=30, trust_env=False)
    return response.status_code


def test_uncached_then_cached_launch_lands_in_a_working_server(stack, git_server):
    repo = git_server.publish({"hello.ipynb": NOTEBOOK})
    events = read_events(stack.url + "build/" + git_spec(repo))
    assert events[-1]["phase"] == "ready", events[-3:]
    assert {"fetching", "building", "built", "launching"} <= {e["phase"] for e in events}
    ready = events[-1]
    assert ready["url"].startswith(stack.url + "user/tmp-")
    assert server_answers(ready) == 200
    # The notebook from the repository is in the server.
    contents = httpx.get(ready["url"] + "api/contents/hello.ipynb",
                         params={"token": ready["token"]}, timeout=30, trust_env=False)
    assert contents.status_code == 200
    # Another user's token does not open this server.
    started = time.monotonic()
    again = read_events(stack.url + "build/" + git_spec(repo))
    cached_seconds = time.monotonic() - started
    assert [e["phase"] for e in again][0] == "built"
    assert again[-1]["phase"] == "ready"
    assert again[-1]["url"] != ready["url"]
    foreign = httpx.get(ready["url"] + "api/status", params={"token": again[-1]["token"]},
                        timeout=30, trust_env=False, follow_redirects=False)
    assert foreign.status_code in (302, 401, 403)
    assert server_answers(again[-1]) == 200
    print(f"cached launch took {cached_seconds:.2f} s")


def test_twenty_simultaneous_launches_share_one_build(stack, git_server):
    repo = git_server.publish({"hello.ipynb": NOTEBOOK, "README.md": "twenty"})
    builds_before = stack.service.builds.started
    results: list[list[dict]] = []
    lock = threading.Lock()

    def launch() -> None:
        events = read_events(stack.url + "build/" + git_spec(repo), timeout=900)
        with lock:
            results.append(events)

    threads = [threading.Thread(target=launch) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(900)
    assert len(results) == 20
    assert stack.service.builds.started - builds_before == 1
    readies = [events[-1] for events in results]
    assert all(r["phase"] == "ready" for r in readies), [r for r in readies if
                                                          r["phase"] != "ready"][:2]
    assert len({r["url"] for r in readies}) == 20
    assert [server_answers(r) for r in readies] == [200] * 20


def test_a_server_started_ahead_of_time_is_handed_over(stack, git_server):
    """The warm pool: after one launch, the next launch of that image is a hand-over."""
    repo = git_server.publish({"hello.ipynb": NOTEBOOK, "README.md": "warm"})
    first = read_events(stack.url + "build/" + git_spec(repo))
    assert first[-1]["phase"] == "ready"
    pool = stack.service.pool
    image = first[-1]["image"]
    deadline = time.monotonic() + 120
    while not pool.ready.get(image) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert pool.ready.get(image), "the pool did not start a server"
    started = time.monotonic()
    second = read_events(stack.url + "build/" + git_spec(repo))
    seconds = time.monotonic() - started
    assert "started ahead of time" in second[-2]["message"]
    assert second[-1]["phase"] == "ready" and second[-1]["url"] != first[-1]["url"]
    assert server_answers(second[-1]) == 200
    assert server_answers(first[-1]) == 200
    assert seconds < 2, seconds
