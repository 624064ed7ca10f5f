"""Launch page, loading page, legacy links, badge and the small JSON endpoints."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def http(binder):
    url, _ = binder()
    with httpx.Client(base_url=url, trust_env=False, timeout=30) as client:
        yield client


def test_launch_page_has_the_form_with_every_provider(http):
    page = http.get("/")
    assert page.status_code == 200
    for label in ("GitHub", "GitLab.com", "Gist", "Git repository", "Zenodo DOI",
                  "Figshare DOI", "Dataverse DOI"):
        assert label in page.text
    assert 'id="repository"' in page.text and 'id="ref"' in page.text and 'id="path"' in page.text


def test_pasted_url_becomes_link_and_badges(http):
    answer = http.get("/api/understand", params={
        "provider": "gh", "repo": "https://gitlab.com/group/sub/project", "ref": "",
        "path": "notebooks/intro.ipynb", "pathtype": "file"}).json()
    base = str(http.base_url)
    assert answer["provider"] == "gl"
    assert answer["launch_url"] == (base + "v2/gl/group%2Fsub%2Fproject/HEAD"
                                    "?labpath=notebooks%2Fintro.ipynb")
    assert answer["markdown"] == f"[![Binder]({base}badge_logo.svg)]({answer['launch_url']})"
    assert answer["rst"].startswith(f".. image:: {base}badge_logo.svg")
    assert answer["html"].startswith('<a href="')
    bad = http.get("/api/understand", params={"provider": "git", "repo": "not a url"})
    assert bad.status_code == 400 and "full URL" in bad.json()["error"]


def test_form_without_javascript_redirects_to_the_launch_link(http):
    response = http.get("/launch", params={"provider": "gh", "repo": "https://github.com/o/r",
                                           "ref": "dev", "path": "", "pathtype": "file"})
    assert response.status_code == 303 and response.headers["location"] == "/v2/gh/o/r/dev"
    response = http.get("/launch", params={"provider": "gh", "repo": "", "ref": ""})
    assert response.status_code == 400 and "Please enter a repository" in response.text


def test_loading_page_and_its_errors(http):
    page = http.get("/v2/gh/owner/repo/HEAD", params={"labpath": "a b.ipynb"})
    assert page.status_code == 200
    assert 'data-build-url="/build/gh/owner/repo/HEAD"' in page.text
    assert 'data-target="lab/tree/a%20b.ipynb"' in page.text
    assert "https://github.com/owner/repo" in page.text
    git = http.get("/v2/git/https%3A%2F%2Fexample.org%2Fr.git/main")
    assert 'data-build-url="/build/git/https%3A%2F%2Fexample.org%2Fr.git/main"' in git.text
    bad = http.get("/v2/nosuch/owner/repo/HEAD")
    assert bad.status_code == 400 and "not a repository provider" in bad.text


def test_old_style_links_redirect(http):
    response = http.get("/repo/owner/repo", params={"filepath": "x.ipynb"})
    assert response.status_code == 301
    assert response.headers["location"] == "/v2/gh/owner/repo/HEAD?filepath=x.ipynb"
    response = http.get("/repo/owner/repo/tree/dev")
    assert response.headers["location"] == "/v2/gh/owner/repo/dev"


def test_badge_versions_providers_metrics(http):
    badge = http.get("/badge_logo.svg")
    assert badge.headers["content-type"].startswith("image/svg+xml") and "<svg" in badge.text
    assert http.get("/assets/images/badge.svg").text == badge.text
    versions = http.get("/versions", headers={"Origin": "https://federation.example"})
    assert "bindery" in versions.json()["binderhub"] and versions.json()["builder"]
    assert versions.headers["access-control-allow-origin"] == "*"
    providers = http.get("/api/repoproviders").json()
    ids = [p["id"] for p in providers]
    # The built-ins in their order; installed third-party sources follow (tests/contracts).
    assert ids[:7] == ["gh", "gl", "gist", "git", "zenodo", "figshare", "dataverse"]
    # BinderHub's display_config shape, which its own frontend reads.
    gh = providers[0]
    assert gh["displayName"] == "GitHub" and gh["ref"] == {"enabled": True, "default": "HEAD"}
    assert gh["detect"]["regex"].startswith("^(https?://github.com/)?(?<repo>")
    assert set(gh["repo"]) == {"label", "placeholder", "urlEncode"}
    assert gh["spec"]["validateRegex"] == "[^/]+/[^/]+/.+"
    zenodo = providers[4]
    assert zenodo["ref"] == {"enabled": False} and "detect" not in zenodo
    assert providers[3]["repo"]["urlEncode"] is True  # git URLs are encoded in links
    assert "binderhub_inprogress_builds" in http.get("/metrics").text


def test_a_full_quota_is_a_soft_health_check(binder):
    """As BinderHub's pod quota: a full deployment queues launches but is not unhealthy."""
    url, app = binder(total_quota=1)
    service = app.state.service
    service.queue.running["tmp-someone"] = "gh/owner/repo"  # every place taken
    health = httpx.get(url + "health", trust_env=False)
    capacity = next(c for c in health.json()["checks"] if c["service"] == "Capacity")
    assert capacity["ok"] is False and capacity["_ignore_failure"] is True
    assert health.status_code == 200 and health.json()["ok"] is True


def test_health_reports_each_check(http):
    health = http.get("/health")
    body = health.json()
    names = [c["service"] for c in body["checks"]]
    assert names == ["Container engine", "Hub", "Capacity"]
    assert health.status_code == (200 if body["ok"] else 503)
    assert {c["service"]: c["ok"] for c in body["checks"]}["Hub"] is True


def test_rate_limit_uses_the_address_the_proxy_saw(binder):
    """Behind the proxy all requests come from 127.0.0.1; the limit must still be per visitor."""
    url, _ = binder(rate_limit=1, rate_limit_period=60)
    from .conftest import read_events

    def launch(forwarded: str) -> str:
        return read_events(url + "build/nope/a/b",
                           headers={"X-Forwarded-For": forwarded})[-1]["message"]

    assert "not a repository provider" in launch("203.0.113.1")
    assert "not a repository provider" in launch("203.0.113.2")
    assert "Too many launches" in launch("203.0.113.1")
    assert "Too many launches" in launch("198.51.100.9, 203.0.113.1")  # spoofed prefix ignored
