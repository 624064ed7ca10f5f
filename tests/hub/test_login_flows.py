"""Login flows that need no browser: Binder's temporary users, the edge-auth endpoint, the token CLI."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select
from starlette.testclient import TestClient

from bindery.hub.app import Hub, build_app
from bindery.commands.hub import hub_group
from bindery.hub.db.models import User
from bindery.hub.security import SESSION_COOKIE

PROXY_SECRET = "proxy-secret-for-tests-0123456789"


def test_anonymous_login_makes_a_temporary_user_and_logs_the_browser_in(tmp_path, make_hub_settings):
    settings = make_hub_settings(tmp_path)
    settings.auth.kind = "anonymous"
    hub = Hub(settings, proxy=False)
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        answer = client.get("/hub/login?next=/hub/home", follow_redirects=False)
        assert answer.status_code == 302 and answer.headers["location"] == "/hub/home"
        assert SESSION_COOKIE in answer.cookies
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        me = client.get("/hub/api/user").json()
        assert me["name"].startswith("tmp-") and me["user_kind"] == "temporary" and not me["admin"]
        # A second visitor gets another user.
        client.cookies.clear()
        other = client.get("/hub/login", follow_redirects=False)
        assert other.cookies[SESSION_COOKIE] != answer.cookies[SESSION_COOKIE]
    with hub.db() as s:
        assert len(s.scalars(select(User).where(User.kind == "temporary")).all()) == 2


def test_open_redirects_are_refused(api_hub):
    api_hub.client.cookies.set(SESSION_COOKIE, api_hub.hub.signer.dumps("ann"))
    api_hub.token_for("ann")
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = api_hub.client.get("/hub/login", params={"next": evil}, follow_redirects=False)
        assert answer.headers["location"] == "/hub/home"


def test_edge_auth_endpoint_answers_only_the_proxy(api_hub):
    c = api_hub.client
    api_hub.hub.settings.proxy.auth_token = PROXY_SECRET
    alice = api_hub.token_for("alice")
    api_hub.token_for("bob")
    url = "/hub/api/proxy/authorize?user=alice&path=/user/alice/lab"
    proxy = {"X-Bindery-Proxy-Token": PROXY_SECRET}
    assert c.get(url, headers={"Authorization": f"token {alice}"}).status_code == 403  # not the proxy
    assert c.get(url, headers={**proxy, "X-Bindery-Proxy-Token": "guess"}).status_code == 403
    assert c.get(url, headers=proxy).status_code == 401
    ok = c.get(url, headers={**proxy, "Authorization": f"token {alice}"})
    assert ok.status_code == 200 and ok.json()["name"] == "alice"
    assert "set-cookie" not in ok.headers  # header tokens do not turn into cookies
    bob = c.get(url, headers={**proxy, "Cookie": f"{SESSION_COOKIE}={api_hub.hub.signer.dumps('bob')}"})
    assert bob.status_code == 403
    linked = c.get(url, headers={**proxy, "X-Bindery-Token": alice})
    assert linked.status_code == 200 and SESSION_COOKIE in linked.headers["set-cookie"]
    # The cookie from the link works on its own afterwards.
    value = linked.cookies[SESSION_COOKIE]
    c.cookies.clear()
    assert c.get(url, headers={**proxy, "Cookie": f"{SESSION_COOKIE}={value}"}).status_code == 200
    # Admins may enter users' servers (scope access:servers).
    assert c.get(url, headers={**proxy, "Authorization": f"token {api_hub.admin_token}"}).status_code == 200
    assert c.get("/hub/api/proxy/authorize?user=Bad!&path=/", headers=proxy).status_code == 400


def test_token_cli_prints_a_working_admin_token(api_hub):
    result = CliRunner().invoke(hub_group, ["token", "--admin", "--note", "ops", "--db-url",
                                            api_hub.hub.settings.db_url], obj={})
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    answer = api_hub.client.get("/hub/api/users", headers={"Authorization": f"token {token}"})
    assert answer.status_code == 200
    bad = CliRunner().invoke(hub_group, ["token", "--scopes", "fly", "--db-url", api_hub.hub.settings.db_url], obj={})
    assert bad.exit_code != 0 and "Unknown scope" in bad.output
