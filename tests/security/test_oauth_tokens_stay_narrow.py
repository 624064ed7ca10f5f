"""What a service gets through OAuth is "who is this", never the person's account.

An attacker who runs (or breaks into) a service that users log in to must not be able
to use the tokens it receives to start or enter the users' servers, make tokens or
read other users; a Binder visitor must not be able to authorize services even when
the deployment lets every user use them; and removing a service from the
configuration must revoke the tokens it was given.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from hub.conftest import make_settings, page_xsrf
from starlette.testclient import TestClient

from bindery.hub.app import Hub, build_app
from bindery.hub.services import ServiceSettings
from bindery.hub.spawners.factory import spawner_factory
from bindery.proxy.protocol import PROXY_TOKEN_HEADER

TOKEN = secrets.token_hex(32)
PROXY_SECRET = secrets.token_hex(32)
REDIRECT = "/services/evil/oauth_callback"


def _hub(tmp_path: Path, services: list[ServiceSettings]) -> Hub:
    settings = make_settings(tmp_path, services=services, extra_user_scopes=["access:services"])
    settings.proxy.auth_token = PROXY_SECRET
    return Hub(settings, proxy=False,
               spawner_factory=spawner_factory(settings.spawner, settings.hub_id))


def _oauth_token(hub: Hub, client: TestClient, user: str, *, kind: str = "user") -> str:
    hub.get_or_create_user(user, kind=kind)
    client.cookies.set("bindery-session", hub.login_cookie(user))
    xsrf = page_xsrf(client)  # the login's XSRF value, as the consent page carries it
    query = {"client_id": "service-evil", "response_type": "code",
             "scope": "read:users"}
    answer = client.post("/hub/api/oauth2/authorize", params=query, follow_redirects=False,
                         data={"_xsrf": xsrf, "scopes": ["read:users!user=" + user, "servers",
                                                         "tokens", "admin"]})
    assert answer.status_code == 302, answer.text
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    issued = client.post("/hub/api/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": "service-evil",
        "client_secret": TOKEN})
    assert issued.status_code == 200, issued.text
    return str(issued.json()["access_token"])


def test_a_services_oauth_token_cannot_use_the_persons_account(tmp_path):
    service = ServiceSettings(name="evil", api_token=TOKEN, oauth_redirect_uri=REDIRECT,
                              oauth_client_allowed_scopes=["read:users"])
    hub = _hub(tmp_path, [service])
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        token = _oauth_token(hub, client, "alice")
        client.cookies.clear()
        auth = {"Authorization": f"token {token}"}
        me = client.get("/hub/api/user", headers=auth).json()
        assert me["name"] == "alice"
        # Scopes the client was not allowed (servers, tokens) or that the form added
        # (admin) were never granted.
        assert not {"servers", "tokens", "admin", "self"} & set(me["scopes"])
        assert client.post("/hub/api/users/alice/server", headers=auth).status_code == 403
        assert client.post("/hub/api/users/alice/tokens", headers=auth, json={}).status_code \
            == 403
        assert client.get("/hub/api/users", headers=auth).status_code == 403
        # The proxy would not let the token into alice's server either.
        edge = client.get("/hub/api/proxy/authorize", params={"user": "alice", "path": "/user/alice/"},
                          headers={**auth, PROXY_TOKEN_HEADER: PROXY_SECRET})
        assert edge.status_code == 403


def test_visitors_cannot_authorize_services_and_removing_a_service_revokes_its_tokens(tmp_path):
    service = ServiceSettings(name="evil", api_token=TOKEN, oauth_redirect_uri=REDIRECT,
                              oauth_client_allowed_scopes=["read:users"])
    hub = _hub(tmp_path, [service])
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        token = _oauth_token(hub, client, "alice")
        hub.get_or_create_user("visitor-1", kind="temporary")
        client.cookies.set("bindery-session", hub.login_cookie("visitor-1"))
        refused = client.get("/hub/api/oauth2/authorize", follow_redirects=False,
                             params={"client_id": "service-evil", "response_type": "code"},
                             headers={"Accept": "text/html"})
        assert refused.status_code == 403
    # The deployment drops the service: at the next start its tokens stop working.
    hub.settings.services = []
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        assert client.get("/hub/api/user", headers={"Authorization": f"token {token}"}
                          ).status_code == 403
