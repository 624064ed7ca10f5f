"""The OAuth provider's rules, request by request, against an in-process hub (no browser).

What a client gets for each mistake: unknown clients and redirect URIs are refused on
the hub's own page (never redirected to), codes are single-use and bound to their
client, PKCE verifiers must match, secrets must be right, and a person only grants
access to what they may use themselves.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from bindery.hub.app import Hub, build_app
from bindery.hub.services import ServiceSettings
from bindery.hub.spawners.factory import spawner_factory
from hub.conftest import make_settings, page_xsrf

TOKEN = secrets.token_hex(32)
OTHER_TOKEN = secrets.token_hex(32)
REDIRECT = "http://127.0.0.1:9/services/svc/oauth_callback"


@pytest.fixture
def oauth_hub(tmp_path: Path) -> Iterator[tuple[Hub, TestClient]]:
    settings = make_settings(tmp_path, services=[
        ServiceSettings(name="svc", api_token=TOKEN, oauth_redirect_uri=REDIRECT,
                        oauth_client_allowed_scopes=["read:users"]),
        ServiceSettings(name="other", api_token=OTHER_TOKEN, oauth_no_confirm=True),
    ], extra_user_scopes=["access:services!service=svc", "access:services!service=other"])
    hub = Hub(settings, proxy=False,
              spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        yield hub, client


def _login(hub: Hub, client: TestClient, name: str, admin: bool = False) -> str:
    hub.get_or_create_user(name, admin=admin)
    client.cookies.set("bindery-session", hub.login_cookie(name))
    xsrf = page_xsrf(client)  # the login's XSRF value, as the consent page carries it
    return xsrf


def _authorize(client: TestClient, **params: str):
    query = {"client_id": "service-svc", "redirect_uri": REDIRECT, "response_type": "code",
             "state": "s1", **params}
    return client.get("/hub/api/oauth2/authorize", params=query, follow_redirects=False,
                      headers={"Accept": "text/html"})


def _consent(client: TestClient, xsrf: str, scopes: list[str], **params: str) -> dict[str, str]:
    """Answer the consent page with ``scopes`` ticked; the query of the redirect back."""
    query = {"client_id": "service-svc", "redirect_uri": REDIRECT, "response_type": "code",
             "state": "s1", **params}
    answer = client.post("/hub/api/oauth2/authorize", params=query, follow_redirects=False,
                         data={"_xsrf": xsrf, "scopes": scopes})
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _token(client: TestClient, code: str, secret: str = TOKEN, **extra: str):
    return client.post("/hub/api/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": "service-svc",
        "client_secret": secret, "redirect_uri": REDIRECT, **extra})


def test_a_request_without_login_goes_to_the_login_page_and_comes_back(oauth_hub):
    _, client = oauth_hub
    answer = _authorize(client)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("/hub/login?next=%2Fhub%2Fapi%2Foauth2%2F")


def test_unknown_clients_and_redirect_uris_are_refused_on_the_hub_page(oauth_hub):
    hub, client = oauth_hub
    _login(hub, client, "alice")
    unknown = _authorize(client, client_id="service-nope")
    assert unknown.status_code == 400 and "location" not in unknown.headers
    assert "does not know" in unknown.text
    evil = _authorize(client, redirect_uri="https://evil.example/cb")
    assert evil.status_code == 400 and "location" not in evil.headers
    # A prefix or a longer path of the registered URI is not it either: exact match only.
    assert _authorize(client, redirect_uri=REDIRECT + "/../x").status_code == 400


def test_consent_then_code_then_token_with_pkce_s256(oauth_hub):
    hub, client = oauth_hub
    xsrf = _login(hub, client, "alice")
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256",
            "scope": "read:users"}
    page = _authorize(client, **pkce)
    assert page.status_code == 200 and "Authorize access" in page.text
    # A consent form without the XSRF value is refused.
    forged = client.post("/hub/api/oauth2/authorize", params={
        "client_id": "service-svc", "response_type": "code"}, data={"scopes": ["read:users"]},
        follow_redirects=False)
    assert forged.status_code == 403
    back = _consent(client, xsrf, ["read:users!user=alice"], **pkce)
    assert back["state"] == "s1"
    assert _token(client, back["code"]).json()["error"] == "invalid_request"  # no verifier
    # That attempt spent the code: a code is good once, whatever happens.
    back = _consent(client, xsrf, ["read:users!user=alice"], **pkce)
    assert _token(client, back["code"], code_verifier="wrong" * 10).json()["error"] == \
        "invalid_grant"
    back = _consent(client, xsrf, ["read:users!user=alice"], **pkce)
    answer = _token(client, back["code"], code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    scopes = set(body["scope"].split())
    assert scopes == {"access:services!service=svc", "read:users:name!user=alice",
                      "read:users:groups!user=alice", "read:users!user=alice"}
    me = client.get("/hub/api/user", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["name"] == "alice"
    assert _token(client, back["code"], code_verifier=verifier).json()["error"] == "invalid_grant"


def test_token_endpoint_refuses_wrong_secrets_other_clients_and_grant_types(oauth_hub):
    hub, client = oauth_hub
    xsrf = _login(hub, client, "alice")
    code = _consent(client, xsrf, [])["code"]
    wrong = _token(client, code, secret=OTHER_TOKEN)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    # The other service authenticates fine, but the code is not its own.
    code = _consent(client, xsrf, [])["code"]
    stolen = client.post("/hub/api/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": "service-other",
        "client_secret": OTHER_TOKEN})
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert client.post("/hub/api/oauth2/token", data={"grant_type": "password"}).json()[
        "error"] == "unsupported_grant_type"
    # HTTP Basic client authentication works as well as the form fields.
    code = _consent(client, xsrf, [])["code"]
    basic = base64.b64encode(f"service-svc:{TOKEN}".encode()).decode()
    answer = client.post("/hub/api/oauth2/token", headers={"Authorization": f"Basic {basic}"},
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": REDIRECT})
    assert answer.status_code == 200, answer.text


def test_errors_a_client_can_handle_go_back_to_it(oauth_hub):
    hub, client = oauth_hub
    _login(hub, client, "alice")
    for params, error in (({"response_type": "token"}, "unsupported_response_type"),
                          ({"scope": "admin"}, "invalid_scope"),
                          ({"code_challenge": "x" * 43, "code_challenge_method": "S512"},
                           "invalid_request")):
        answer = _authorize(client, **params)
        assert answer.status_code == 302, params
        back = parse_qs(urlsplit(answer.headers["location"]).query)
        assert back["error"] == [error] and back["state"] == ["s1"]


def test_no_consent_page_for_trusted_services_and_no_access_without_the_scope(oauth_hub, tmp_path):
    hub, client = oauth_hub
    _login(hub, client, "alice")
    trusted = client.get("/hub/api/oauth2/authorize", follow_redirects=False, params={
        "client_id": "service-other", "response_type": "code"})
    assert trusted.status_code == 302
    assert trusted.headers["location"].startswith("/services/other/oauth_callback?code=")
    # Without access:services (not an admin, not in extra_user_scopes) there is no way in.
    hub.settings.extra_user_scopes = []
    refused = _authorize(client)
    assert refused.status_code == 403 and "permission" in refused.text
    _login(hub, client, "root", admin=True)
    assert _authorize(client).status_code == 200  # admins may use every service


def test_service_and_scope_settings_say_what_is_wrong():
    from pydantic import ValidationError

    from bindery.hub.settings import HubSettings

    with pytest.raises(ValidationError, match="at least 16 random characters"):
        ServiceSettings(name="svc", api_token="short")
    with pytest.raises(ValidationError, match="OAuth settings but no api_token"):
        ServiceSettings(name="svc", oauth_redirect_uri="/services/svc/oauth_callback")
    with pytest.raises(ValidationError, match="must be an http"):
        ServiceSettings(name="svc", api_token=TOKEN, oauth_redirect_uri="javascript:alert(1)")
    with pytest.raises(ValidationError, match="Scope 'acess:services' does not exist"):
        HubSettings(extra_user_scopes=["acess:services"])
    assert ServiceSettings(name="svc", api_token=TOKEN).client_id == "service-svc"
