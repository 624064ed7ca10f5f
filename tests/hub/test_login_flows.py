"""Login flows that need no browser: Binder's temporary users, edge auth, the token CLI."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from click.testing import CliRunner
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from bindery.commands.hub import hub_group
from bindery.hub.app import Hub, build_app
from bindery.hub.auth.base import AuthContext, Authenticator, AuthResult, CompletedLogin, LoginRoute
from bindery.hub.auth.errors import LoginError
from bindery.hub.db.models import User
from bindery.hub.redirects import safe_next
from bindery.hub.security import SERVER_COOKIE, SESSION_COOKIE
from bindery.hub.spawners.factory import spawner_factory
from bindery.plugins import PluginOptions

PROXY_SECRET = "proxy-secret-for-tests-0123456789"


def test_anonymous_login_makes_a_temporary_user_and_logs_the_browser_in(
    tmp_path, make_hub_settings
):
    settings = make_hub_settings(tmp_path)
    settings.auth.kind = "anonymous"
    hub = Hub(settings, proxy=False, spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
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
    api_hub.token_for("ann")
    api_hub.client.cookies.set(SESSION_COOKIE, api_hub.hub.login_cookie("ann"))
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        answer = api_hub.client.get("/hub/login", params={"next": evil}, follow_redirects=False)
        assert answer.headers["location"] == "/hub/home"


class TicketAuthenticator(Authenticator):
    """A plugin written only against the contract: an "external provider" at /hub/ticket."""

    name = "ticket"
    uses_login_form = False

    async def authenticate(self, request: Request, data: Mapping[str, str]) -> AuthResult | None:
        return None

    def login_url(self, next_url: str) -> str:
        return "/hub/ticket?" + urlencode({"next": next_url})

    def routes(self) -> list[LoginRoute]:
        return [LoginRoute("/ticket", self.callback)]

    async def callback(self, request: Request) -> CompletedLogin:
        who = request.query_params.get("who", "")
        if who == "nobody":
            raise LoginError(403, "No ticket", "The ticket office does not know you.")
        return CompletedLogin(AuthResult(name=who), request.query_params.get("next", ""))

    def end_login(self, request: Request, response: Response) -> None:
        response.headers["X-Ticket-Ended"] = "yes"


def test_an_external_login_ends_in_the_hub_without_back_doors(tmp_path, make_hub_settings):
    """The plugin returns who came back; the hub makes the user and the cookie, and checks ``next``."""
    auth = TicketAuthenticator(PluginOptions(), AuthContext(admin_users=frozenset({"ada"}),
                                                            blocked_users=frozenset({"eve"})))
    settings = make_hub_settings(tmp_path)
    hub = Hub(settings, proxy=False, authenticator=auth,
              spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        page = client.get("/hub/login?next=/hub/admin")
        assert 'href="/hub/ticket?next=%2Fhub%2Fadmin"' in page.text
        done = client.get("/hub/ticket?who=ada&next=/hub/admin", follow_redirects=False)
        assert done.status_code == 302 and done.headers["location"] == "/hub/admin"
        assert SESSION_COOKIE in done.cookies and done.headers["x-ticket-ended"] == "yes"
        assert client.get("/hub/api/user").json()["admin"] is True
        client.cookies.clear()
        evil = client.get("/hub/ticket?who=bob&next=https://evil.example/", follow_redirects=False)
        assert evil.headers["location"] == "/hub/home"
        client.cookies.clear()
        refused = client.get("/hub/ticket?who=nobody&next=/hub/home", follow_redirects=False)
        assert refused.status_code == 403 and "The ticket office does not know you." in refused.text
        assert "/hub/ticket?next=%2Fhub%2Fhome" in refused.text and refused.headers["x-ticket-ended"] == "yes"
        blocked = client.get("/hub/ticket?who=eve", follow_redirects=False)
        assert blocked.status_code == 403 and SESSION_COOKIE not in blocked.cookies
    with hub.db() as s:
        assert sorted(s.scalars(select(User.name))) == ["ada", "bob"]


def test_one_guard_for_every_next_parameter():
    """The login page, the form handlers and the OAuth start share one open-redirect guard."""
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "evil", "", None):
        assert safe_next(evil) == "/hub/home"
        assert safe_next(evil, "/hub/") == "/hub/"
    assert safe_next("/hub/spawn?next=%2Fx") == "/hub/spawn?next=%2Fx"


def test_edge_auth_endpoint_answers_only_the_proxy(api_hub):
    c = api_hub.client
    api_hub.hub.settings.proxy.auth_token = PROXY_SECRET
    alice = api_hub.token_for("alice")
    api_hub.token_for("bob")
    url = "/hub/api/proxy/authorize?user=alice&path=/user/alice/lab"
    proxy = {"X-Bindery-Proxy-Token": PROXY_SECRET}
    # Only the proxy may ask.
    assert c.get(url, headers={"Authorization": f"token {alice}"}).status_code == 403
    assert c.get(url, headers={**proxy, "X-Bindery-Proxy-Token": "guess"}).status_code == 403
    assert c.get(url, headers=proxy).status_code == 401
    ok = c.get(url, headers={**proxy, "Authorization": f"token {alice}"})
    assert ok.status_code == 200 and ok.json()["name"] == "alice"
    assert "set-cookie" not in ok.headers  # header tokens do not turn into cookies
    bob_cookie = f"{SESSION_COOKIE}={api_hub.hub.login_cookie('bob')}"
    bob = c.get(url, headers={**proxy, "Cookie": bob_cookie})
    assert bob.status_code == 403
    linked = c.get(url, headers={**proxy, "X-Bindery-Token": alice})
    assert linked.status_code == 200 and SESSION_COOKIE not in linked.headers["set-cookie"]
    # The link leaves a pass for alice's servers only, which works on its own afterwards.
    assert "Path=/user/alice/" in linked.headers["set-cookie"]
    value = linked.cookies[SERVER_COOKIE]
    c.cookies.clear()
    assert c.get(url, headers={**proxy, "Cookie": f"{SERVER_COOKIE}={value}"}).status_code == 200
    # Admins may enter users' servers (scope access:servers).
    admin = {**proxy, "Authorization": f"token {api_hub.admin_token}"}
    assert c.get(url, headers=admin).status_code == 200
    assert c.get("/hub/api/proxy/authorize?user=a%2Fb&path=/", headers=proxy).status_code == 400


def test_token_cli_prints_a_working_admin_token(api_hub):
    result = CliRunner().invoke(hub_group, ["token", "--admin", "--note", "ops", "--db-url",
                                            api_hub.hub.settings.db_url], obj={})
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    answer = api_hub.client.get("/hub/api/users", headers={"Authorization": f"token {token}"})
    assert answer.status_code == 200
    bad = CliRunner().invoke(
        hub_group, ["token", "--scopes", "fly", "--db-url", api_hub.hub.settings.db_url], obj={}
    )
    assert bad.exit_code != 0 and "does not exist" in bad.output
