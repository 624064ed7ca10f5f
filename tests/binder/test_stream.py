"""The ``/build/<provider>/<spec>`` event stream consumed as a Binder client does.

Repositories are served by ``git daemon`` on 127.0.0.1 and built by the real
builder on the real engine. Servers are not started here: the hub is ``fake_hub``
(a stand-in REST API); launching real servers is in ``test_launch_real_hub.py``.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from .conftest import read_events

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def git_spec(url: str, ref: str = "HEAD") -> str:
    return f"git/{quote(url, safe='')}/{quote(ref, safe='/')}"


def phases(events):
    return [e["phase"] for e in events]


# -- bad input: each ends with one readable ``failed`` ---------------------------------

@pytest.mark.parametrize("path, words", [
    ("build/nosuch/owner/repo/HEAD", "not a repository provider"),
    ("build/gh/only-owner", "owner and repository"),
    ("build/gh/own%20er/repo/HEAD", "not a valid GitHub repository"),
    ("build/git/https://example.org/x.git/HEAD", "must be URL-encoded"),
    ("build/zenodo/not-a-doi", "is not a DOI"),
])
def test_malformed_requests_fail_with_a_readable_message(binder, path, words):
    url, _ = binder()
    events = read_events(url + path)
    assert phases(events) == ["failed"]
    assert words in events[-1]["message"]


def test_banned_spec_is_refused(binder, git_server):
    repo = git_server.publish({"README.md": "hi"})
    url, _ = binder(banned_specs=[r"^git/.*repo"])
    events = read_events(url + "build/" + git_spec(repo))
    assert phases(events) == ["failed"]
    assert "ban list" in events[-1]["message"]


def test_local_repositories_are_refused_unless_allowed(binder, git_server):
    repo = git_server.publish({"README.md": "hi"})
    url, _ = binder(allow_local_repos=False)
    for target in (repo, "file:///etc", "/srv/repo"):
        events = read_events(url + "build/" + git_spec(target))
        assert phases(events) == ["failed"], target
        assert "allow_local_repos" in events[-1]["message"] or "not allowed" in \
            events[-1]["message"], events


def test_missing_repository_and_missing_ref(binder, git_server):
    url, _ = binder()
    missing = f"git://127.0.0.1:{git_server.port}/does-not-exist.git"
    events = read_events(url + "build/" + git_spec(missing))
    assert phases(events) == ["failed"]
    assert "Traceback" not in events[-1]["message"]
    repo = git_server.publish({"README.md": "hi"})
    events = read_events(url + "build/" + git_spec(repo, "no-such-branch"))
    assert phases(events) == ["failed"]
    assert "no-such-branch" in events[-1]["message"]


def test_rate_limit_per_client_address(binder):
    url, _ = binder(rate_limit=2, rate_limit_period=60)
    for _ in range(2):
        assert "not a repository provider" in read_events(url + "build/nope/a/b")[-1]["message"]
    assert "Too many launches" in read_events(url + "build/nope/a/b")[-1]["message"]


def test_doi_links_go_only_to_their_own_record_source():
    """A DOI is handed to the record source of its provider, never to a git source."""
    from bindery.binder.providers import parse
    from bindery.sources import find_source

    for provider, doi in (("zenodo", "10.5281/zenodo.3242074"),
                          ("figshare", "10.6084/m9.figshare.9782777.v1"),
                          ("dataverse", "10.7910/DVN/TJCLKP"),
                          ("zenodo", "10.6084/m9.figshare.9782777.v1")):
        assert find_source(parse(provider, doi).source_spec).name == provider


# -- builds -----------------------------------------------------------------------------

@pytest.mark.engine
@pytest.mark.slow
def test_uncached_then_cached_and_build_only(binder, git_server, binder_settings):
    repo = git_server.publish({"index.ipynb": NOTEBOOK, "README.md": "uncached then cached"})
    url, app = binder()
    events = read_events(url + "build/" + git_spec(repo) + "?build_only=true")
    assert phases(events)[0] == "waiting"
    assert {"fetching", "building"} <= set(phases(events))
    assert phases(events)[-2:] == ["built", "ready"]
    image = events[-2]["imageName"]
    assert image.startswith("bindery-test-binder/")
    assert "token" not in events[-1]

    events = read_events(url + "build/" + git_spec(repo))
    assert phases(events) == ["built", "launching", "launching", "ready"]
    assert events[0]["message"] == "Found built image, launching...\n"
    ready = events[-1]
    assert ready["url"] == url + ready["url"][len(url):]
    assert ready["url"].endswith("/") and "/user/tmp-" in ready["url"]
    assert ready["token"] and ready["image"] == image
    assert ready["repo_url"] == repo
    assert ready["binder_request"] == "v2/" + git_spec(repo)
    assert ready["binder_persistent_request"].startswith("v2/git/" + quote(repo, safe=""))
    user = ready["url"].rstrip("/").rsplit("/", 1)[-1]
    assert binder.hub.users[user]["options"] == {"image": image}
    assert app.state.service.builds.started == 1

    lines = Path(binder_settings.binder.events_log).read_text().splitlines()
    records = [json.loads(line) for line in lines if repo.rsplit("/", 1)[-1] in line
               or quote(repo, safe="") in line]
    assert [r["status"] for r in records][-2:] == ["success", "success"]
    assert records[-1]["ref"] and len(records[-1]["ref"]) == 40
    assert ready["binder_client_ip"] == "127.0.0.1"
    metrics = httpx.get(url + "metrics", trust_env=False).text
    labels = f'provider="Git repository",repo="{repo}",status="success"'
    assert f"binderhub_launch_count_total{{{labels}}} 2.0" in metrics, metrics
    assert f"binderhub_build_count_total{{{labels}}} 1.0" in metrics
    assert 'binderhub_launch_time_seconds_count{retries="0",status="success"} 1.0' in metrics

    # Cached and build_only: BinderHub's single event, nothing launched.
    events = read_events(url + "build/" + git_spec(repo) + "?build_only=true")
    assert events == [{"phase": "ready", "imageName": image, "message": "Done! Found built image\n"}]


@pytest.mark.engine
@pytest.mark.slow
def test_concurrent_requests_share_one_build_and_latecomers_get_the_log(binder, git_server):
    repo = git_server.publish({"README.md": "shared", "postBuild": "#!/bin/sh\nsleep 3\n"})
    url, app = binder()
    results: list[list[dict]] = []

    def client() -> None:
        results.append(read_events(url + "build/" + git_spec(repo) + "?build_only=1"))

    threads = [threading.Thread(target=client) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    assert app.state.service.builds.started == 1
    assert len(results) == 5
    for events in results:
        assert phases(events)[-1] == "ready", events[-3:]
        assert "fetching" in phases(events)  # everyone sees the log from its start


@pytest.mark.engine
@pytest.mark.slow
def test_failing_build_fails_readably_and_caches_nothing(binder, git_server):
    repo = git_server.publish({"requirements.txt": "this-package-does-not-exist-bindery-4242\n"})
    url, app = binder()
    events = read_events(url + "build/" + git_spec(repo))
    assert phases(events)[-1] == "failed"
    assert "could not be built" in events[-1]["message"]
    assert "building" in phases(events)
    builder = app.state.service.builder
    ref = builder.resolve(repo)
    assert builder.find_image(ref) is None
    assert app.state.service.builds.active == {}
    assert binder.hub.users == {}


@pytest.mark.engine
@pytest.mark.slow
def test_build_over_its_time_limit_is_stopped(binder, git_server):
    repo = git_server.publish({"postBuild": "#!/bin/sh\nsleep 600\n"})
    url, app = binder(builder_overrides={"build_timeout": 20})
    events = read_events(url + "build/" + git_spec(repo), timeout=300)
    assert phases(events)[-1] == "failed"
    message = events[-1]["message"]
    assert "stopped" in message or "limit" in message
    builder = app.state.service.builder
    assert builder.find_image(builder.resolve(repo)) is None



@pytest.mark.engine
@pytest.mark.slow
def test_full_quota_means_waiting_in_line_not_failing(binder, git_server):
    """With one place per repository, a second launch waits (and is told its position)
    until the first server is gone (here: removed from the hub, as the culler would)."""
    import time as _time

    repo = git_server.publish({"README.md": "quota"})
    url, app = binder(per_repo_quota=1, reconcile_every=0.5, warm_pool_size=0)
    first = read_events(url + "build/" + git_spec(repo))
    assert phases(first)[-1] == "ready"
    second: list[dict] = []
    waiter = threading.Thread(target=lambda: second.extend(
        read_events(url + "build/" + git_spec(repo))))
    waiter.start()
    deadline = _time.monotonic() + 60
    while app.state.service.queue.waiters == [] and _time.monotonic() < deadline:
        _time.sleep(0.1)
    assert len(app.state.service.queue.waiters) == 1 and waiter.is_alive()
    first_user = first[-1]["url"].rstrip("/").rsplit("/", 1)[-1]
    binder.hub.users.pop(first_user)  # the server is gone (culled)
    waiter.join(60)
    assert [e.get("position") for e in second if e["phase"] == "waiting"] == [1]
    assert "number 1 in line" in next(e for e in second if e.get("position"))["message"]
    assert phases(second)[-1] == "ready"
