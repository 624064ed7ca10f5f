"""Issue 8, finding 2: the rules behind one origin per user, checked piece by piece.

The whole attack in a real browser is ``test_user_origins_browser.py``; here are the
parts an attacker would probe one at a time: names as DNS labels, host routing, the
hub refusing to serve on a user's host, cross-origin requests, the one-time login
hand-off and the open-redirect guard.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hub.conftest import make_settings, page_xsrf
from starlette.testclient import TestClient

from bindery.hub.app import Hub, build_app
from bindery.hub.origins import UserOrigins, dns_label, normalise_subdomain_host
from bindery.hub.security import SERVER_COOKIE, SESSION_COOKIE
from bindery.hub.settings import HubSettings
from bindery.hub.spawners.factory import spawner_factory
from bindery.proxy.cookies import (
    cross_origin_change,
    foreign_subresource,
    upstream_set_cookies_allowed,
    without_hub_cookies,
)
from bindery.proxy.routes import RouteTable

LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
PROXY_SECRET = "proxy-secret-for-origin-tests-0123456789"
HUB = "bindery.localhost:8000"
ALICE_HOST = "alice.bindery.localhost:8000"


# -- names, hosts, routes ------------------------------------------------------------------


def test_names_become_safe_distinct_dns_labels():
    assert dns_label("alice") == "alice" and dns_label("a-1") == "a-1"
    tricky = ["a.b", "a_b", "a--b", "xn--80ak6aa92e", "-a", "a" * 64, "a.b_c", "a-b-c", "ab"]
    labels = [dns_label(name) for name in tricky]
    assert all(LABEL.fullmatch(label) and len(label) <= 63 for label in labels), labels
    assert len(set(labels)) == len(tricky)  # no two users share a host
    # An escaped label always has "--", which no name used as it is can have.
    assert "--" in dns_label("a.b") and dns_label("a.b") != dns_label("a-b")
    assert not dns_label("xn--80ak6aa92e").startswith("xn--")
    assert dns_label("a.b") == dns_label("a.b")  # stable across restarts


@pytest.mark.parametrize("bad", ["http://hub.example.org/prefix", "ftp://hub.example.org",
                                 "127.0.0.1:8000", "http://user@hub.example.org",
                                 "hub_example.org", "http://hub.example.org:99999"])
def test_subdomain_host_must_be_a_plain_dns_host(bad):
    with pytest.raises(ValueError, match="subdomain_host"):
        normalise_subdomain_host(bad)


def test_subdomain_host_turns_on_host_routing_and_the_hub_hosts_login():
    settings = HubSettings(subdomain_host=HUB)
    assert settings.subdomain_host == f"http://{HUB}"
    assert settings.proxy.host_routing is True
    assert settings.proxy.login_url == f"http://{HUB}/hub/login"
    origins = settings.origins
    assert origins.server_url("alice") == f"http://{ALICE_HOST}/user/alice/"
    assert origins.routespec("alice", "p") == "/alice.bindery.localhost/user/alice/p/"


def test_host_routes_serve_only_their_host():
    table = RouteTable()
    table.add("/", "http://127.0.0.1:1")
    table.add("/alice.bindery.localhost/user/alice/", "http://127.0.0.1:2")
    assert table.match("/user/alice/lab", ALICE_HOST).target.endswith(":2")
    assert table.match("/user/alice/lab", "ALICE.bindery.localhost").target.endswith(":2")
    # Another host (the hub's, bob's, a made-up one) never reaches alice's server.
    for host in (HUB, "bob.bindery.localhost:8000", "evil.example", None):
        assert table.match("/user/alice/lab", host).target.endswith(":1"), host
    # alice's host does not open another path of hers by accident either.
    assert table.match("/hub/home", ALICE_HOST).target.endswith(":1")


def test_proxy_cookie_rules():
    header = "bindery-session=s; _xsrf=x; bindery-server=p; bindery-xsrf=y; theme=dark; a=b"
    assert without_hub_cookies(header) == "theme=dark; a=b"
    answers = ["bindery-session=evil; Path=/hub/", "_xsrf=1", " Bindery-Server=2; Path=/",
               "own=1; Path=/user/alice/"]
    assert upstream_set_cookies_allowed(answers) == ["own=1; Path=/user/alice/"]
    assert cross_origin_change("POST", "http://bob.bindery.localhost:8000", ALICE_HOST, False)
    assert cross_origin_change("GET", "http://bob.bindery.localhost:8000", ALICE_HOST, True)
    assert cross_origin_change("PUT", "null", ALICE_HOST, False)
    assert not cross_origin_change("POST", f"http://{ALICE_HOST}", ALICE_HOST, False)
    assert not cross_origin_change("GET", "http://bob.bindery.localhost:8000", ALICE_HOST, False)
    assert not cross_origin_change("POST", None, ALICE_HOST, False)  # a program, not a browser
    # Another site may link to (or frame) a server, not pull its content into its own page.
    assert foreign_subresource("same-site", "no-cors") and foreign_subresource("cross-site", "cors")
    assert not foreign_subresource("same-site", "navigate")
    assert not foreign_subresource("same-origin", "cors") and not foreign_subresource(None, None)


# -- the hub, in process -------------------------------------------------------------------


@pytest.fixture
def origin_hub(tmp_path: Path):
    settings = make_settings(tmp_path, subdomain_host=HUB)
    settings.proxy.auth_token = PROXY_SECRET
    hub = Hub(settings, proxy=False,
              spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    with TestClient(build_app(hub), base_url=f"http://{HUB}") as client:
        for name, admin in (("alice", False), ("root", True)):
            hub.get_or_create_user(name, admin=admin)
        yield hub, client


def _logged_in(hub: Hub, client: TestClient, name: str) -> None:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, hub.login_cookie(name), domain="bindery.localhost",
                       path="/hub/")


def test_the_hub_does_not_answer_on_a_users_host(origin_hub):
    _, client = origin_hub
    page = client.get("/hub/login?next=/hub/home", headers={"Host": ALICE_HOST},
                      follow_redirects=False)
    assert page.status_code == 302
    assert page.headers["location"] == f"http://{HUB}/hub/login?next=/hub/home"
    posted = client.post("/hub/login", data={}, headers={"Host": ALICE_HOST})
    assert posted.status_code == 403 and "own host" in posted.json()["message"]


def test_cookie_changes_from_a_users_origin_are_refused_even_with_the_xsrf_token(origin_hub):
    hub, client = origin_hub
    _logged_in(hub, client, "root")
    xsrf = page_xsrf(client)
    stolen = client.post("/hub/api/users/root/tokens", json={"scopes": ["admin"]},
                         headers={"X-XSRFToken": xsrf, "Origin": f"http://{ALICE_HOST}"})
    assert stolen.status_code == 403 and "Cross-origin" in stolen.json()["message"]
    own = client.post("/hub/api/users/root/tokens", json={"scopes": ["admin"]},
                      headers={"X-XSRFToken": xsrf, "Origin": f"http://{HUB}"})
    assert own.status_code == 201


def _authorize(client: TestClient, **headers: str):
    client.cookies.clear()
    return client.get("/hub/api/proxy/authorize?user=alice&path=/user/alice/lab",
                      headers={"X-Bindery-Proxy-Token": PROXY_SECRET, **headers})


def test_login_hand_off_is_one_time_bound_to_the_login_and_the_server(origin_hub):
    hub, client = origin_hub
    _logged_in(hub, client, "alice")
    back = f"http://{ALICE_HOST}/user/alice/lab?x=1"
    answer = client.get("/hub/login", params={"next": back}, follow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(back + "&bindery-login=")
    code = location.split("bindery-login=", 1)[1]
    session_value = client.cookies.get(SESSION_COOKIE)
    # The proxy spends the code: a pass for alice's servers, path /user/alice/ only.
    spent = _authorize(client, **{"X-Bindery-Login": code})
    assert spent.status_code == 200, spent.text
    set_cookie = spent.headers["set-cookie"]
    assert set_cookie.startswith(f"{SERVER_COOKIE}=") and "Path=/user/alice/" in set_cookie
    assert "Domain" not in set_cookie  # host-only: alice's host, nobody else's
    pass_value = spent.cookies[SERVER_COOKIE]
    # Once only; and never for another user's server.
    assert _authorize(client, **{"X-Bindery-Login": code}).status_code == 401
    other = hub.handoffs.issue("whatever", "root")
    assert _authorize(client, **{"X-Bindery-Login": other}).status_code == 401
    # The pass works while the login lasts, and ends with it.
    assert _authorize(client, Cookie=f"{SERVER_COOKIE}={pass_value}").status_code == 200
    client.cookies.set(SESSION_COOKIE, session_value, domain="bindery.localhost", path="/hub/")
    out = client.post("/hub/logout", data={"_xsrf": page_xsrf(client)}, follow_redirects=False)
    assert out.status_code == 302
    assert _authorize(client, Cookie=f"{SERVER_COOKIE}={pass_value}").status_code == 401


@pytest.mark.parametrize("evil", [
    "http://evil.example/user/alice/", "http://alice.evil.example/user/alice/",
    "http://bob.bindery.localhost:8000/user/alice/", f"https://{ALICE_HOST}/user/alice/",
    f"http://{ALICE_HOST}.evil.example/user/alice/", "//evil.example/user/alice/",
    f"http://{ALICE_HOST}\\@evil.example/user/alice/",
])
def test_login_never_redirects_off_the_hub_and_its_users_hosts(origin_hub, evil):
    hub, client = origin_hub
    _logged_in(hub, client, "alice")
    answer = client.get("/hub/login", params={"next": evil}, follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"] == "/hub/home"


def test_single_origin_cookies_stay_under_hub(tmp_path: Path):
    """Without subdomains the login cookie is still kept from users' servers (path /hub/)."""
    settings = make_settings(tmp_path)
    assert not UserOrigins(settings.subdomain_host).enabled
    hub = Hub(settings, proxy=False,
              spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        page = client.get("/hub/login")
        xsrf_cookie = page.headers["set-cookie"]
        assert xsrf_cookie.startswith("bindery-xsrf=") and "HttpOnly" in xsrf_cookie
        assert "Path=/hub/" in xsrf_cookie


def test_subdomains_need_the_proxy_that_checks_logins():
    from bindery.hub.proxy.base import ProxyError
    from bindery.hub.proxy.processes import ProxyProcess, process_from_settings

    settings = HubSettings(subdomain_host=HUB)
    settings.proxy.kind = "chp"
    with pytest.raises(ProxyError, match="built-in proxy"):
        process_from_settings(settings.proxy)
    settings.proxy.kind = "builtin"
    process = process_from_settings(settings.proxy, auth_url="http://127.0.0.1:1/auth")
    assert isinstance(process, ProxyProcess)
    command = process.command()
    assert "--host-routing" in command
    assert command[command.index("--login-url") + 1] == f"http://{HUB}/hub/login"


def test_a_cookie_tossed_from_a_users_host_never_switches_the_login(origin_hub):
    """alice's page sets ``bindery-session=<her login>; Domain=bindery.localhost; Path=/hub/``:
    the admin's browser then sends two; the hub takes neither rather than alice's."""
    hub, client = origin_hub
    admins, alices = hub.login_cookie("root"), hub.login_cookie("alice")
    client.cookies.clear()
    for order in ((admins, alices), (alices, admins)):
        both = "; ".join(f"{SESSION_COOKIE}={value}" for value in order)
        me = client.get("/hub/api/user", headers={"Cookie": both})
        assert me.status_code == 403, me.text  # JupyterHub's answer to no credentials
    assert client.get("/hub/api/user", headers={"Cookie": f"{SESSION_COOKIE}={admins}"}
                      ).json()["name"] == "root"
