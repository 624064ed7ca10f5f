"""The GitHub preset against a FAKE GitHub (github.com cannot be reached from here).

The fake is a tiny Starlette app speaking GitHub's documented OAuth endpoints
(/login/oauth/authorize, /login/oauth/access_token, /user, /user/orgs); it checks
the PKCE verifier, the client secret and the Accept header like GitHub does.
The flow machinery under test is the same as for OIDC, which is tested against
a real provider in test_auth_oidc.py.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bindery.hub.auth.base import AuthContext, AuthResult, CompletedLogin
from bindery.hub.auth.github import GitHubAuthenticator, GitHubOptions
from bindery.hub.auth.routes import login_routes

CLIENT_ID = "gh-client"
CLIENT_SECRET = "gh-secret-value"


class FakeGitHub:
    def __init__(self, login: str = "Octo-Cat", orgs: tuple[str, ...] = ("Bindery-Org",)) -> None:
        self.login = login
        self.orgs = orgs
        self.codes: dict[str, str] = {}  # code -> code_challenge
        self.tokens: set[str] = set()
        self.scopes_asked: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/login/oauth/authorize", self.authorize),
                Route("/login/oauth/access_token", self.access_token, methods=["POST"]),
                Route("/user", self.user),
                Route("/user/orgs", self.user_orgs),
            ]
        )

    async def authorize(self, request: Request) -> Response:
        """The person clicks "Authorize" at once: straight back with a code."""
        q = request.query_params
        assert q["client_id"] == CLIENT_ID and q["code_challenge_method"] == "S256"
        self.scopes_asked.append(q.get("scope", ""))
        code = secrets.token_hex(8)
        self.codes[code] = q["code_challenge"]
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}")

    async def access_token(self, request: Request) -> Response:
        form = await request.form()
        challenge = self.codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier", ""))
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if form.get("client_secret") != CLIENT_SECRET or challenge is None or digest != challenge:
            body = {"error": "bad_verification_code"}
        else:
            token = secrets.token_hex(8)
            self.tokens.add(token)
            body = {"access_token": token, "token_type": "bearer", "scope": "read:user"}
        if request.headers.get("accept") != "application/json":
            return PlainTextResponse(urlencode(body))  # GitHub's default is form-encoded
        return JSONResponse(body)

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization", "").removeprefix("Bearer ") in self.tokens

    async def user(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse({"login": self.login, "id": 1})

    async def user_orgs(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return JSONResponse([{"login": org} for org in self.orgs])


async def login_via_fake_github(github: FakeGitHub, **options) -> tuple[httpx.Response, list[AuthResult]]:
    settings = GitHubOptions.model_validate({
        "client_id": CLIENT_ID,
        "client_secret": options.pop("client_secret", CLIENT_SECRET),
        "github_url": "http://github.test",
        "github_api_url": "http://api.github.test",
        **options,
    })
    auth = GitHubAuthenticator(settings, AuthContext(), transport=httpx.ASGITransport(app=github.app))
    logins: list[AuthResult] = []

    async def finish(request: Request, done: CompletedLogin) -> Response:
        logins.append(done.result)
        response = RedirectResponse(done.next_url, status_code=302)
        response.set_cookie("fake_hub_login", done.result.name)
        return response

    hub = Starlette(routes=login_routes(auth, finish))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hub), base_url="http://hub.test") as browser:
        to_github = await browser.get("/hub/oauth_login", params={"next": "/hub/home"})
        assert to_github.headers["location"].startswith("http://github.test/login/oauth/authorize?")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=github.app)) as gh_browser:
            back = await gh_browser.get(to_github.headers["location"])
        return await browser.get(back.headers["location"]), logins


@pytest.mark.anyio
async def test_fake_github_login_uses_the_github_login_as_name() -> None:
    github = FakeGitHub()
    response, logins = await login_via_fake_github(github)
    assert response.status_code == 302 and response.headers["location"] == "/hub/home"
    assert "fake_hub_login=octo-cat" in response.headers["set-cookie"]
    assert [r.name for r in logins] == ["octo-cat"]
    assert github.scopes_asked == ["read:user"]


@pytest.mark.anyio
async def test_fake_github_orgs_act_as_groups() -> None:
    github = FakeGitHub()
    ok, logins = await login_via_fake_github(github, allowed_groups={"bindery-org"}, admin_groups={"BINDERY-ORG"})
    assert ok.status_code == 302 and logins[0].admin is True
    assert "read:org" in github.scopes_asked[0].split()
    refused, logins = await login_via_fake_github(FakeGitHub(orgs=("other",)), allowed_groups={"bindery-org"})
    assert refused.status_code == 403 and logins == []


@pytest.mark.anyio
async def test_fake_github_refusing_the_code_is_a_400_page() -> None:
    response, logins = await login_via_fake_github(FakeGitHub(), client_secret="wrong-secret")
    assert response.status_code == 400
    assert "refused to confirm this login" in response.text
    assert logins == []
