"""The OpenID Connect login, end to end against a real OIDC provider process.

The provider is oidc-provider-mock (a real Authlib-based provider) on 127.0.0.1.
The hub is stood in for by a tiny Starlette app serving the authenticator's routes
through the same seam the real hub uses (:func:`bindery.hub.auth.routes.login_routes`);
its ``finish`` records the completed login and sets a ``fake_hub_login`` cookie (the
real hub is another area, tested in test_auth_hub_integration.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bindery.hub.auth.base import AuthContext, AuthResult, CompletedLogin
from bindery.hub.auth.errors import AuthConfigError, LoginError
from bindery.hub.auth.oidc import OIDCAuthenticator, OIDCOptions
from bindery.hub.auth.routes import login_routes

CLIENT_ID = "bindery-test-client"


class FakeHub:
    """Stands in for the hub app: serves the authenticator's routes under /hub, records logins."""

    def __init__(self, auth: OIDCAuthenticator) -> None:
        self.auth = auth
        self.logins: list[tuple[AuthResult, str]] = []
        self.app = Starlette(routes=login_routes(auth, self.finish))

    async def finish(self, request: Request, done: CompletedLogin) -> Response:
        self.logins.append((done.result, done.next_url))
        response = RedirectResponse(done.next_url, status_code=302)
        response.set_cookie("fake_hub_login", done.result.name)
        return response

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://hub.test"
        )


def make_auth(
    issuer: str,
    *,
    context: AuthContext | None = None,
    clock: Callable[[], float] = time.time,
    timeout: float = 15.0,
    **options: object,
) -> OIDCAuthenticator:
    settings = OIDCOptions.model_validate(
        {"oidc_issuer": issuer, "client_id": CLIENT_ID, "client_secret": "s3cret-value", **options}
    )
    return OIDCAuthenticator(settings, context or AuthContext(), clock=clock, timeout=timeout)


async def go_to_provider(hub: httpx.AsyncClient, next_url: str = "/hub/spawn") -> str:
    """Start the login at the hub; return the provider's authorize URL it redirected to."""
    response = await hub.get("/hub/oauth_login", params={"next": next_url})
    assert response.status_code == 302
    return response.headers["location"]


async def pick_user(authorize_url: str, sub: str | None, deny: bool = False) -> str:
    """Submit the provider's own form (as a person would) and return where it sends the browser."""
    async with httpx.AsyncClient() as browser:
        form_page = await browser.get(authorize_url)
        assert form_page.status_code == 200 and 'name="sub"' in form_page.text
        data = {"action": "deny"} if deny else {"sub": sub}
        answer = await browser.post(authorize_url, data=data)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


@pytest.mark.anyio
async def test_full_login_with_pkce_state_and_nonce(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer))
    async with hub.client() as client:
        authorize_url = await go_to_provider(client)
        query = parse_qs(urlsplit(authorize_url).query)
        assert authorize_url.startswith(f"{oidc_issuer}/oauth2/authorize")
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
        assert query["state"][0] and query["nonce"][0]
        assert query["redirect_uri"] == ["http://hub.test/hub/oauth_callback"]
        assert "openid" in query["scope"][0].split()

        callback = await pick_user(authorize_url, "alice-sub")
        assert callback.startswith("http://hub.test/hub/oauth_callback?")
        done = await client.get(callback)

    assert done.status_code == 302
    assert done.headers["location"] == "/hub/spawn"
    assert "fake_hub_login=alice" in done.headers["set-cookie"]
    [(result, next_url)] = hub.logins
    assert result.name == "alice"  # preferred_username, lowercased
    assert result.groups == ["staff", "physics"]
    assert result.info["claims"]["iss"] == oidc_issuer
    assert next_url == "/hub/spawn"


@pytest.mark.anyio
async def test_username_falls_back_to_sub(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer))
    async with hub.client() as client:
        done = await client.get(await pick_user(await go_to_provider(client), "carol-sub"))
    assert done.status_code == 302
    assert hub.logins[0][0].name == "carol-sub"


@pytest.mark.anyio
async def test_configurable_username_claim(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer, username_claim="sub"))
    async with hub.client() as client:
        await client.get(await pick_user(await go_to_provider(client), "alice-sub"))
    assert hub.logins[0][0].name == "alice-sub"


@pytest.mark.anyio
async def test_bad_state_is_a_400_and_nobody_is_logged_in(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer))
    async with hub.client() as client:
        callback = await pick_user(await go_to_provider(client), "alice-sub")
        forged = re.sub(r"state=[^&]+", "state=forged-state", callback)
        response = await client.get(forged)
    assert response.status_code == 400
    assert "does not match" in response.text
    assert "Traceback" not in response.text
    assert hub.logins == []


@pytest.mark.anyio
async def test_callback_in_another_browser_is_a_400(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer))
    async with hub.client() as client:
        callback = await pick_user(await go_to_provider(client), "alice-sub")
    async with hub.client() as other_browser:  # no state cookie
        response = await other_browser.get(callback)
    assert response.status_code == 400
    assert "not started in this browser" in response.text
    assert hub.logins == []


@pytest.mark.anyio
async def test_user_not_on_allow_list_gets_403(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer, context=AuthContext(allowed_users=frozenset({"alice"}))))
    async with hub.client() as client:
        response = await client.get(await pick_user(await go_to_provider(client), "bob-sub"))
    assert response.status_code == 403
    assert "'bob'" in response.text and "may not use this hub" in response.text
    assert hub.logins == []


@pytest.mark.anyio
async def test_blocked_user_gets_403(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer, context=AuthContext(blocked_users=frozenset({"alice"}))))
    async with hub.client() as client:
        response = await client.get(await pick_user(await go_to_provider(client), "alice-sub"))
    assert response.status_code == 403
    assert hub.logins == []


@pytest.mark.anyio
async def test_allowed_and_admin_groups(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer, allowed_groups={"staff"}, admin_groups={"physics"}))
    async with hub.client() as client:
        ok = await client.get(await pick_user(await go_to_provider(client), "alice-sub"))
    async with hub.client() as client:
        refused = await client.get(await pick_user(await go_to_provider(client), "bob-sub"))
    assert ok.status_code == 302 and refused.status_code == 403
    [(alice, _)] = hub.logins
    assert alice.admin is True and hub.auth.is_admin(alice)


@pytest.mark.anyio
async def test_admin_users_list(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer, context=AuthContext(admin_users=frozenset({"bob"}))))
    async with hub.client() as client:
        await client.get(await pick_user(await go_to_provider(client), "bob-sub"))
    async with hub.client() as client:
        await client.get(await pick_user(await go_to_provider(client), "alice-sub"))
    admins = {result.name: hub.auth.is_admin(result) for result, _ in hub.logins}
    assert admins == {"bob": True, "alice": False}


@pytest.mark.anyio
async def test_denied_at_the_provider_is_a_clear_403(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer))
    async with hub.client() as client:
        callback = await pick_user(await go_to_provider(client), None, deny=True)
        assert "error=access_denied" in callback
        response = await client.get(callback)
    assert response.status_code == 403
    assert "Login cancelled" in response.text
    assert hub.logins == []


@pytest.mark.anyio
async def test_invalid_username_from_provider_is_refused_clearly(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer))
    async with hub.client() as client:
        response = await client.get(await pick_user(await go_to_provider(client), "odd-sub"))
    assert response.status_code == 403
    assert "username_claim" in response.text
    assert hub.logins == []


@pytest.mark.anyio
async def test_open_redirect_in_next_is_neutralised(oidc_issuer: str) -> None:
    hub = FakeHub(make_auth(oidc_issuer))
    async with hub.client() as client:
        authorize_url = await go_to_provider(client, next_url="https://evil.example/")
        done = await client.get(await pick_user(authorize_url, "alice-sub"))
    assert done.headers["location"] == "/hub/"


async def _id_token_for(issuer: str, sub: str, nonce: str, client_id: str = CLIENT_ID) -> str:
    """A genuine ID token from the provider (code flow done by hand)."""
    redirect_uri = "http://hub.test/hub/oauth_callback"
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile",
        "state": "s",
        "nonce": nonce,
    }
    async with httpx.AsyncClient() as browser:
        answer = await browser.post(f"{issuer}/oauth2/authorize", params=params, data={"sub": sub})
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        token = await browser.post(
            f"{issuer}/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(client_id, "x"),
        )
    return token.json()["id_token"]


@pytest.mark.anyio
async def test_id_token_checks_signature_audience_and_nonce(oidc_issuer: str) -> None:
    auth = make_auth(oidc_issuer)
    token = await _id_token_for(oidc_issuer, "alice-sub", nonce="n-1")
    assert (await auth.validate_id_token(token, "n-1"))["sub"] == "alice-sub"

    header, payload, signature = token.split(".")
    tampered = ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    with pytest.raises(LoginError) as bad_signature:
        await auth.validate_id_token(tampered, "n-1")
    assert bad_signature.value.status == 400

    with pytest.raises(LoginError):
        await auth.validate_id_token(token, "another-nonce")  # replayed into another login

    with pytest.raises(LoginError) as garbage:
        await auth.validate_id_token("not-a-jwt", "n-1")
    assert garbage.value.status == 400

    other_app = await _id_token_for(oidc_issuer, "alice-sub", nonce="n-2", client_id="other-app")
    with pytest.raises(LoginError):
        await auth.validate_id_token(other_app, "n-2")  # audience is someone else


@pytest.mark.anyio
async def test_expired_id_token_is_refused(oidc_issuer: str) -> None:
    """The provider issues tokens valid for 1 h; a hub clock 1 h 2 min ahead must refuse them."""
    token = await _id_token_for(oidc_issuer, "alice-sub", nonce="n-3")
    now_ok = make_auth(oidc_issuer)
    assert await now_ok.validate_id_token(token, "n-3")
    later = make_auth(oidc_issuer, clock=lambda: time.time() + 3600 + 120)
    with pytest.raises(LoginError, match="invalid or expired.*ExpiredTokenError"):
        await later.validate_id_token(token, "n-3")


def test_missing_configuration_is_a_clear_error() -> None:
    with pytest.raises(AuthConfigError, match="issuer"):
        OIDCAuthenticator(OIDCOptions(client_id="x"), AuthContext())
    with pytest.raises(AuthConfigError, match="client id"):
        OIDCAuthenticator(OIDCOptions(oidc_issuer="http://127.0.0.1:1"), AuthContext())


@pytest.mark.anyio
async def test_unreachable_provider_is_a_502_page_not_a_500() -> None:
    hub = FakeHub(make_auth("http://127.0.0.1:9", timeout=2))
    async with hub.client() as client:
        response = await client.get("/hub/oauth_login")
    assert response.status_code == 502
    assert "could not reach the identity provider" in response.text
