"""Issue 8, finding 4: click-to-run XSS on the binder's loading page, and its missing headers.

``/v2/git/javascript%3A%2F%2F%250Aalert(document.cookie)/HEAD`` rendered
``<a href="javascript://%0Aalert(document.cookie)">``; a click ran script on the
binder's origin (which shares cookies with the hub behind ``bindery serve``). Now a
repository URL becomes a link only when it is ``http(s)``, and every binder response
carries a strict Content-Security-Policy (with ``frame-ancestors``), ``nosniff`` and
a Referrer-Policy, under which the pages' own scripts still run (checked in Chromium).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright import sync_api as playwright
from starlette.applications import Starlette

from bindery.binder.app import create_app
from bindery.binder.badges import snippets
from bindery.binder.settings import BinderSettings
from bindery.composition import Settings, make_builder

# Only names that existed before the fix are imported here, so this file also runs
# (and fails) against the code before the fix.

#: The reproduction of the attack review, byte for byte.
XSS_PATH = "/v2/git/javascript%3A%2F%2F%250Aalert(document.cookie)/HEAD"

#: The same trick in other spellings browsers accept as a script URL.
XSS_VARIANTS = [
    XSS_PATH,
    "/v2/git/JaVaScRiPt%3A%2F%2F%250Aalert(1)/HEAD",
    "/v2/git/%20javascript%3A%2F%2F%250Aalert(1)/HEAD",
    "/v2/git/java%09script%3A%2F%2F%250Aalert(1)/HEAD",
    "/v2/git/data%3A%2F%2Ftext%2Fhtml%2C%3Cscript%3Ealert(1)%3C%2Fscript%3E/HEAD",
    "/v2/git/vbscript%3A%2F%2Fmsgbox(1)/HEAD",
]

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


class _Served:
    """The app on a real uvicorn server on a free loopback port (a browser needs one)."""

    def __init__(self, app: Starlette) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the binder app did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class NoImagesEngine:
    """The builder's engine for these tests: no image exists and none is ever built."""

    def image_labels(self, name: str) -> None:
        return None


def binder_app(tmp_path: Path, **binder: Any) -> Starlette:
    """The launch service in public mode (``allow_local_repos`` off), without a hub."""
    settings = Settings()
    settings.builder.work_dir = tmp_path / "work"
    settings.binder.rate_limit = 0
    for key, value in binder.items():
        setattr(settings.binder, key, value)
    builder = make_builder(settings, engine=NoImagesEngine())  # type: ignore[arg-type]
    return create_app(settings.binder, builder, allow_local_repos=settings.allow_local_repos)


def is_web_url(url: str) -> bool:
    """What a page may link to: ``http(s)://`` with a host, no space or control character."""
    return (url.lower().startswith(("http://", "https://")) and len(url.split("/")) > 2
            and bool(url.split("/")[2]) and not any(ord(c) <= 0x20 or c == "\x7f" for c in url))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    """A client of the app on a real server (Starlette's TestClient decodes paths twice)."""
    served = _Served(binder_app(tmp_path))
    try:
        with httpx.Client(base_url=served.url, trust_env=False, timeout=30) as http:
            yield http
    finally:
        served.stop()


class _Links(HTMLParser):
    """Every URL an element of the page would navigate to or load."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action", "formaction") and value is not None:
                self.urls.append(value)


def page_urls(html: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


def assert_no_script_links(html: str) -> None:
    for url in page_urls(html):
        assert url.startswith("/") or is_web_url(url), f"unsafe link rendered: {url!r}"


# -- the link -------------------------------------------------------------------------------------


def test_reproduction_renders_no_javascript_href(client: httpx.Client) -> None:
    page = client.get(XSS_PATH)
    assert page.status_code == 200
    assert 'href="javascript' not in page.text.lower()
    assert_no_script_links(page.text)
    # The URL is still shown, as text a visitor can read (and not click).
    assert "<code>javascript://%0Aalert(document.cookie)</code>" in page.text


@pytest.mark.parametrize("path", XSS_VARIANTS)
def test_no_spelling_of_a_script_url_becomes_a_link(client: httpx.Client, path: str) -> None:
    page = client.get(path)
    for url in page_urls(page.text):
        assert url.startswith("/") or is_web_url(url), f"{path}: unsafe link {url!r}"


@pytest.mark.parametrize(("path", "href"), [
    ("/v2/gh/owner/repo/HEAD", "https://github.com/owner/repo"),
    ("/v2/gl/group%2Fproject/HEAD", "https://gitlab.com/group/project"),
    ("/v2/git/https%3A%2F%2Fexample.org%2Fr.git/main", "https://example.org/r.git"),
    ("/v2/git/http%3A%2F%2Fexample.org%2Fr.git/HEAD", "http://example.org/r.git"),
])
def test_ordinary_repository_links_are_still_links(client: httpx.Client, path: str,
                                                   href: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert href in page_urls(page.text)


def test_a_git_url_that_is_not_a_web_page_is_shown_as_text(client: httpx.Client) -> None:
    page = client.get("/v2/git/git%40example.org%3Aowner%2Frepo.git/HEAD")
    assert "<code>git@example.org:owner/repo.git</code>" in page.text
    assert 'href="git@' not in page.text


def test_badge_snippets_only_ever_link_web_urls(client: httpx.Client) -> None:
    answer = client.get("/api/understand", params={
        "provider": "git", "repo": "javascript://%0Aalert(1)", "ref": ""}).json()
    # Whatever was pasted, the snippets link this deployment's own launch URL.
    for key in ("markdown", "rst", "html"):
        assert "javascript:" not in answer[key].split("v2/git/", 1)[0]
    assert is_web_url(answer["launch_url"])
    with pytest.raises(ValueError):
        snippets("javascript:alert(1)//", "http://127.0.0.1/badge_logo.svg")


def test_public_url_must_be_a_web_url() -> None:
    assert BinderSettings(public_url="https://binder.example.org/").public_url
    for bad in ("javascript:alert(1)//", "data:text/html,x", "//example.org/", "example.org"):
        with pytest.raises(ValueError):
            BinderSettings(public_url=bad)


def test_is_web_link() -> None:
    from bindery.binder.weblinks import is_web_link

    assert is_web_link("https://github.com/o/r") and is_web_link("HTTP://example.org")
    for url in ("javascript://%0Aalert(1)", "java\tscript:alert(1)", " https://x.org",
                "https://x.org/\n", "data:text/html,x", "git@github.com:o/r", "ssh://h/r",
                "file:///etc/passwd", "https://", "http:///x", "", None, 3):
        assert not is_web_link(url), url


# -- the headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/v2/gh/owner/repo/HEAD", XSS_PATH, "/api/understand?repo=o/r",
                                  "/badge_logo.svg", "/versions", "/static/binder/loading.js",
                                  "/v2/nosuch/x/HEAD", "/no/such/page"])
def test_every_response_has_the_security_headers(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    for name in SECURITY_HEADERS:
        assert name in response.headers, f"{path} lacks {name}"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-frame-options"] == "DENY"


def test_the_build_stream_is_unaffected(client: httpx.Client) -> None:
    """Still an event stream, not cached, ending in one ``failed`` event (the scheme refused)."""
    response = client.get("/build/git/javascript%3A%2F%2F%250Aalert(document.cookie)/HEAD")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-content-type-options"] == "nosniff"
    events = [json.loads(line[5:]) for line in response.text.splitlines()
              if line.startswith("data:")]
    assert [e["phase"] for e in events] == ["failed"]
    assert "javascript" in events[0]["message"]


def test_the_policy_allows_the_configured_public_origin_for_badges() -> None:
    from bindery.binder.headers import content_security_policy

    assert "img-src 'self' data: https://binder.example.org;" in content_security_policy(
        "https://binder.example.org/base/")
    assert "img-src 'self' data:;" in content_security_policy("")


# -- in a real browser ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.browser
def test_in_chromium_the_pages_work_under_the_policy_and_nothing_runs(tmp_path: Path) -> None:
    """The loading page's and the launch page's own scripts run under the CSP; the reproduction
    offers nothing to click; an injected inline script is blocked by the policy."""
    served = _Served(binder_app(tmp_path))
    try:
        with playwright.sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu",
                      "--disable-background-networking"])
            page = browser.new_page()
            violations: list[str] = []
            page.on("console", lambda msg: violations.append(msg.text)
                    if "Content Security Policy" in msg.text else None)
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

            # The reproduction: the URL is text, loading.js runs (EventSource under
            # connect-src 'self') and shows the refusal from the build stream.
            page.goto(served.url + XSS_PATH)
            playwright.expect(page.locator("#launcher")).to_have_attribute(
                "data-phase", "failed", timeout=30_000)
            playwright.expect(page.locator("#status")).to_contain_text("javascript")
            assert page.locator(".repo a").count() == 0
            assert page.locator("a[href^='javascript' i]").count() == 0
            page.locator(".repo code").click()
            assert violations == [] and dialogs == []

            # Anything injected inline would be refused by the policy.
            blocked = page.evaluate("""() => new Promise((resolve) => {
                document.addEventListener('securitypolicyviolation',
                                          (e) => resolve(e.violatedDirective));
                const s = document.createElement('script');
                s.textContent = 'window.__ran = true';
                document.body.appendChild(s);
                setTimeout(() => resolve(window.__ran ? 'ran' : 'no event'), 3000);
            })""")
            assert blocked.startswith("script-src")

            # An ordinary link renders its https link.
            page.goto(served.url + "/v2/gh/owner/repo/HEAD")
            assert page.locator(".repo a").get_attribute("href") == "https://github.com/owner/repo"

            # The launch page's script (fetch under connect-src 'self') still fills the snippets.
            violations.clear()
            page.goto(served.url + "/")
            page.fill("#repository", "https://github.com/owner/repo")
            playwright.expect(page.locator("#launch-url")).to_have_value(
                served.url + "/v2/gh/owner/repo/HEAD", timeout=10_000)
            playwright.expect(page.locator("#badge-md")).to_have_value(
                f"[![Binder]({served.url}/badge_logo.svg)]({served.url}/v2/gh/owner/repo/HEAD)")
            assert violations == []
            browser.close()
    finally:
        served.stop()
