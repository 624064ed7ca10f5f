"""Issue 8, finding 10 (b–d): logout only by POST, metrics behind a scope, forwarded
headers set by the proxy.

The review found: ``GET /hub/logout`` logged out (any page could do it with an
``<img>``); ``/hub/metrics`` answered anyone, through the proxy too; a client's own
``X-Forwarded-Host``/``-Proto``/``-For`` reached user servers unchanged.
"""

from __future__ import annotations

import aiohttp
import pytest
from hub.conftest import page_xsrf
from proxy.conftest import Upstream, fake_hub_auth, proxy, upstreams  # noqa: F401 - fixtures

from bindery.proxy.server import ProxyServer

SESSION_COOKIE = "bindery-session"
XSRF_COOKIE = "_xsrf"


def _log_in(api_hub, name: str = "ann") -> None:
    api_hub.token_for(name)
    api_hub.client.cookies.clear()
    api_hub.client.cookies.set(SESSION_COOKIE, api_hub.hub.login_cookie(name))


# -- logout ------------------------------------------------------------------------------


def test_get_logout_shows_a_button_and_logs_nobody_out(api_hub):
    _log_in(api_hub)
    page = api_hub.client.get("/hub/logout", follow_redirects=False)
    assert page.status_code == 200
    assert 'method="post" action="/hub/logout"' in page.text and 'name="_xsrf"' in page.text
    assert "set-cookie" not in page.headers or SESSION_COOKIE not in page.headers["set-cookie"]
    assert api_hub.client.get("/hub/api/user").status_code == 200


def test_logout_post_without_xsrf_is_refused(api_hub):
    _log_in(api_hub)
    api_hub.client.get("/hub/home")
    refused = api_hub.client.post("/hub/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert api_hub.client.get("/hub/api/user").status_code == 200


def test_logout_post_with_xsrf_logs_out(api_hub):
    _log_in(api_hub)
    xsrf = page_xsrf(api_hub.client)
    done = api_hub.client.post("/hub/logout", data={"_xsrf": xsrf}, follow_redirects=False)
    assert done.status_code == 302 and done.headers["location"] == "/hub/login"
    assert f'{SESSION_COOKIE}=""' in done.headers["set-cookie"]


def test_every_page_offers_logout_as_a_form(api_hub):
    _log_in(api_hub)
    home = api_hub.client.get("/hub/home")
    assert 'action="/hub/logout"' in home.text and 'href="/hub/logout"' not in home.text


# -- metrics -----------------------------------------------------------------------------


def test_metrics_need_the_read_metrics_scope(api_hub):
    c = api_hub.client
    c.cookies.clear()
    assert c.get("/hub/metrics").status_code == 401
    plain = api_hub.token_for("ann")
    assert c.get("/hub/metrics", headers=api_hub.headers(plain)).status_code == 403
    _log_in(api_hub, "ann")
    assert c.get("/hub/metrics").status_code == 403
    c.cookies.clear()
    scraper = api_hub.service_token(["read:metrics"])
    answer = c.get("/hub/metrics", headers=api_hub.headers(scraper))
    assert answer.status_code == 200 and "bindery_hub_running_servers" in answer.text
    assert c.get("/hub/metrics", headers=api_hub.headers()).status_code == 200  # admin
    _log_in(api_hub, "root")
    api_hub.token_for("root", admin=True)
    assert c.get("/hub/metrics").status_code == 200  # an admin's login


def test_metrics_can_be_made_public_like_jupyterhub(api_hub):
    api_hub.hub.settings.authenticate_prometheus = False
    api_hub.client.cookies.clear()
    assert api_hub.client.get("/hub/metrics").status_code == 200


# -- forwarded headers -------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_proxy_sets_forwarded_headers_itself(
    proxy: ProxyServer, upstreams: dict[str, Upstream]  # noqa: F811 - fixtures
) -> None:
    proxy.table.add("/user/alice/", upstreams["a"].url)
    forged = {
        "Host": "lab.example.org",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Real-IP": "203.0.113.7",
        "Forwarded": "for=203.0.113.7;host=evil.example;proto=https",
    }
    async with aiohttp.ClientSession() as http, \
            http.get(proxy.public_url + "/user/alice/x", headers=forged) as r:
        assert r.status == 200
        seen = (await r.json(content_type=None))["headers"]
    assert seen["X-Forwarded-For"] == "127.0.0.1"
    assert seen["X-Forwarded-Proto"] == "http"
    assert seen["X-Forwarded-Host"] == "lab.example.org"
    for name in ("X-Forwarded-Port", "X-Real-IP", "Forwarded"):
        assert name not in seen
