"""Log in through an external identity provider: generic OpenID Connect, and a GitHub preset.

The authorization code flow with PKCE, driven by Authlib's httpx OAuth2 client:

1. ``GET /hub/oauth_login?next=/somewhere`` makes a fresh ``state``, ``nonce`` and
   PKCE verifier, keeps them in a short-lived signed cookie (so the hub needs no
   server-side session store) and redirects to the provider.
2. ``GET /hub/oauth_callback?code=..&state=..`` checks ``state`` against the cookie,
   exchanges the code (sending the PKCE verifier), validates the ID token
   (signature via the provider's JWKS, issuer, audience, expiry, nonce), applies
   the allow/block lists and groups, and hands the ``AuthResult`` to the hub's
   ``request.app.state.login_user(request, result)``, which sets the login cookie
   and redirects to ``next``.

Every failure ends on a short page with a 4xx status saying what happened and
how to start again -- never a traceback.
"""

from __future__ import annotations

import hmac
import html
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx
import warnings

import authlib.deprecate  # installs its own "always" filter; ours must come after it

with warnings.catch_warnings():
    # Authlib 1.6+ warns that it falls back to httpx when the newer httpx2 package is
    # absent; httpx is what the rest of Bindery uses, so the fallback is intended.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bindery.hub.auth.base import AuthResult, Authenticator
from bindery.hub.auth.errors import AuthConfigError
from bindery.hub.auth.names import is_valid_username, normalize_username
from bindery.hub.auth.secret_values import secret_value

log = logging.getLogger(__name__)

#: Cookie holding state/nonce/PKCE verifier between login and callback.
STATE_COOKIE = "bindery-oauth-state"
#: How long a person may spend at the provider before the login must restart.
STATE_MAX_AGE = 600
#: Clock skew tolerated when checking ID-token times (seconds; option ``clock_leeway``).
CLOCK_LEEWAY = 60
#: Seconds between two fetches of the provider's signing keys.
JWKS_MIN_REFRESH = 60


class OAuthLoginError(Exception):
    """A login that cannot complete; ``status`` and ``message`` become the error page."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


def _safe_next(raw: str | None) -> str:
    """Only same-site paths: an attacker's ``next=https://evil`` must not turn login into a redirector."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/hub/"


def _error_page(error: OAuthLoginError, login_url: str) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(error.title, quote=False)}</title></head><body>"
        f"<h1>{html.escape(error.title, quote=False)}</h1>"
        f"<p>{html.escape(error.message, quote=False)}</p>"
        f"<p><a href='{html.escape(login_url)}'>Try logging in again</a></p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=error.status)


class OAuthAuthenticator(Authenticator):
    """Shared machinery of the OAuth2 authorization-code authenticators.

    Subclasses say where the provider's endpoints are (``endpoints``) and who
    the person is once a token is in hand (``identify``).
    """

    uses_login_form: ClassVar[bool] = False
    #: Shown on the login button ("Sign in with ...").
    login_service: ClassVar[str] = "OAuth"
    default_scopes: ClassVar[tuple[str, ...]] = ()
    #: How the client secret reaches the token endpoint.
    token_auth_method: ClassVar[str] = "client_secret_basic"

    def __init__(
        self,
        *,
        client_id: str = "",
        client_secret: Any = None,
        redirect_url: str = "",
        scopes: list[str] | None = None,
        allowed_groups: set[str] | None = None,
        admin_groups: set[str] | None = None,
        cookie_secret: str | bytes | None = None,
        http_client_options: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        if not client_id:
            raise AuthConfigError(
                f"The {self.name} authenticator needs a client id: set [hub.auth] client_id "
                "(or BINDERY_HUB__AUTH__CLIENT_ID) to the one the provider gave you."
            )
        self.client_id = client_id
        self.client_secret = secret_value(client_secret)
        self.redirect_url = redirect_url
        self.scopes = list(scopes) if scopes else list(self.default_scopes)
        self.allowed_groups = set(allowed_groups or ())
        self.admin_groups = set(admin_groups or ())
        # A per-process random secret works for one hub process; the hub passes
        # its own cookie secret so logins survive restarts and several workers.
        self._state_signer = URLSafeTimedSerializer(
            cookie_secret or secrets.token_bytes(32), salt="bindery-oauth-state"
        )
        #: Extra httpx client arguments (timeouts, proxies, verify=CA bundle, transport).
        self.http_client_options = dict(http_client_options or {})
        self.http_client_options.setdefault("timeout", 15.0)

    # -- what subclasses provide ------------------------------------------------

    async def endpoints(self) -> tuple[str, str]:
        """(authorization URL, token URL)."""
        raise NotImplementedError

    async def identify(
        self, client: AsyncOAuth2Client, token: dict[str, Any], nonce: str
    ) -> AuthResult:
        """Who the token belongs to; raise ``OAuthLoginError`` when that cannot be trusted."""
        raise NotImplementedError

    def uses_nonce(self) -> bool:
        return False

    # -- the contract -------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/oauth_login", self.login_handler, methods=["GET"], name="oauth_login"),
            Route("/oauth_callback", self.callback_handler, methods=["GET"], name="oauth_callback"),
        ]

    async def authenticate(self, request: Request, data: Mapping[str, str]) -> AuthResult | None:
        """Complete a login from the callback's ``code`` and ``state`` (raises ``OAuthLoginError``).

        There is no password form: the hub's login page links to ``/hub/oauth_login``.
        """
        if "code" not in data:
            return None
        pending = self._read_state_cookie(request, data.get("state", ""))
        return await self._complete(data["code"], pending)

    def check_allowed(self, result: AuthResult) -> bool:
        """Blocked names never; with allow lists, the name *or* one of the groups must be listed."""
        if result.name in self.blocked_users:
            return False
        if not self.allowed_users and not self.allowed_groups:
            return True
        return result.name in self.allowed_users or bool(self.allowed_groups & set(result.groups))

    def is_admin(self, result: AuthResult) -> bool:
        return super().is_admin(result) or bool(self.admin_groups & set(result.groups))

    # -- the two routes -----------------------------------------------------------

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret or None,
            scope=" ".join(self.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=self.token_auth_method,
            **self.http_client_options,
        )

    def _redirect_uri(self, request: Request) -> str:
        if self.redirect_url:
            return self.redirect_url
        # The callback is our sibling route, wherever the hub mounted us.
        base_path = request.url.path.rsplit("/", 1)[0]
        return str(request.url.replace(path=f"{base_path}/oauth_callback", query=""))

    async def login_handler(self, request: Request) -> Response:
        """Send the browser to the provider, remembering what the callback must check."""
        login_url = str(request.url)
        try:
            authorize_url, _ = await self.endpoints()
        except OAuthLoginError as error:
            return _error_page(error, login_url)
        redirect_uri = self._redirect_uri(request)
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)  # 64 chars, within PKCE's 43..128
        extra = {"nonce": nonce} if self.uses_nonce() else {}
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                authorize_url, state=state, code_verifier=verifier, **extra
            )
        pending = {
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "redirect_uri": redirect_uri,
            "next": _safe_next(request.query_params.get("next")),
        }
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            STATE_COOKIE,
            self._state_signer.dumps(pending),
            max_age=STATE_MAX_AGE,
            path=request.url.path.rsplit("/", 1)[0] + "/",
            httponly=True,
            secure=request.url.scheme == "https",
            samesite="lax",  # must survive the top-level redirect back from the provider
        )
        return response

    async def callback_handler(self, request: Request) -> Response:
        """Finish the login, or show a page saying clearly why it cannot be finished."""
        login_url = str(request.url.replace(path=request.url.path.rsplit("/", 1)[0] + "/oauth_login", query=""))
        params = request.query_params
        try:
            if "error" in params:
                raise self._provider_error(params.get("error", ""), params.get("error_description", ""))
            if not params.get("code") or not params.get("state"):
                raise OAuthLoginError(
                    400,
                    "Incomplete login",
                    "The identity provider sent you back without a code or state. "
                    "Start the login again from the hub.",
                )
            pending = self._read_state_cookie(request, params["state"])
            result = await self._complete(params["code"], pending)
            if not self.check_allowed(result):
                raise OAuthLoginError(
                    403,
                    "Not allowed",
                    f"You are signed in at the identity provider as {result.name!r}, "
                    "but that user may not use this hub. Ask its administrators for access.",
                )
        except OAuthLoginError as error:
            response = _error_page(error, login_url)
            response.delete_cookie(STATE_COOKIE, path=request.url.path.rsplit("/", 1)[0] + "/")
            return response
        result.admin = self.is_admin(result) or None
        response = await _hand_to_hub(request, result, pending["next"])
        response.delete_cookie(STATE_COOKIE, path=request.url.path.rsplit("/", 1)[0] + "/")
        return response

    # -- steps ----------------------------------------------------------------------

    @staticmethod
    def _provider_error(code: str, description: str) -> OAuthLoginError:
        if code == "access_denied":
            return OAuthLoginError(
                403,
                "Login cancelled",
                "The identity provider did not let you in (access was denied or you "
                "cancelled). You can try again.",
            )
        detail = f" ({description})" if description else ""
        return OAuthLoginError(
            400,
            "Login failed at the identity provider",
            f"The identity provider reported the error {code!r}{detail}.",
        )

    def _read_state_cookie(self, request: Request, state: str) -> dict[str, Any]:
        raw = request.cookies.get(STATE_COOKIE)
        if not raw:
            raise OAuthLoginError(
                400,
                "Login session not found",
                "This login was not started in this browser, or cookies are blocked. "
                "Start the login again from the hub.",
            )
        try:
            pending = self._state_signer.loads(raw, max_age=STATE_MAX_AGE)
        except BadSignature:
            raise OAuthLoginError(
                400,
                "Login session expired",
                f"Logins must be finished within {STATE_MAX_AGE // 60} minutes. Start again.",
            ) from None
        if not hmac.compare_digest(str(pending.get("state", "")).encode(), state.encode()):
            raise OAuthLoginError(
                400,
                "Login state does not match",
                "The answer from the identity provider does not belong to the login started "
                "in this browser (possibly a forged or replayed link). Start the login again.",
            )
        return pending

    async def _complete(self, code: str, pending: Mapping[str, Any]) -> AuthResult:
        _, token_url = await self.endpoints()
        async with self._client(pending["redirect_uri"]) as client:
            try:
                token = await client.fetch_token(
                    token_url,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending["verifier"],
                    redirect_uri=pending["redirect_uri"],
                )
            except OAuthError as error:
                raise OAuthLoginError(
                    400,
                    "Login code refused",
                    "The identity provider refused to confirm this login "
                    f"({error.error}). Start the login again.",
                ) from None
            except httpx.HTTPError as error:
                raise _unreachable(error) from None
            result = await self.identify(client, dict(token), pending["nonce"])
        name = normalize_username(result.name)
        if not is_valid_username(name):
            raise OAuthLoginError(
                403,
                "Unusable user name",
                f"The identity provider calls you {result.name!r}, which cannot be a hub user "
                "name (lowercase letters, digits, '-', '_' and '.'). The hub administrators can "
                "choose another claim with [hub.auth] username_claim.",
            )
        result.name = name
        return result


def _unreachable(error: Exception) -> OAuthLoginError:
    log.warning("identity provider unreachable: %s", type(error).__name__)
    return OAuthLoginError(
        502,
        "Identity provider unreachable",
        "The hub could not reach the identity provider. Try again in a moment.",
    )


async def _hand_to_hub(request: Request, result: AuthResult, next_url: str) -> Response:
    """Let the hub log the person in (user row, login cookie, redirect to ``next``).

    Two hub hooks are understood: ``app.state.login_user(request, result)`` (reads
    ``?next=``) and ``app.state.hub.finish_login(request, result, next_url)``.
    """
    state = request.app.state
    login_user = getattr(state, "login_user", None)
    if login_user is not None:
        return await login_user(_with_next(request, next_url), result)
    finish_login = getattr(getattr(state, "hub", None), "finish_login", None)
    if finish_login is not None:
        return await finish_login(request, result, next_url)
    raise RuntimeError("the hub app provides neither app.state.login_user nor app.state.hub.finish_login")


def _with_next(request: Request, next_url: str) -> Request:
    """The callback request, showing the hub the ``next`` saved at login as ``?next=``."""
    scope = dict(request.scope)
    scope["query_string"] = urlencode({"next": next_url}).encode()
    request.state.next_url = next_url
    return Request(scope, request.receive)


class OIDCAuthenticator(OAuthAuthenticator):
    """Any OpenID Connect provider (Keycloak, Authentik, Azure AD, Google, Dex, ...).

    Options: ``issuer``, ``client_id``, ``client_secret``, ``username_claim``
    (default ``preferred_username``, falling back to ``sub``), ``groups_claim``,
    ``allowed_groups``, ``admin_groups``, ``scopes``, ``redirect_url``.
    """

    name: ClassVar[str] = "oidc"
    login_service: ClassVar[str] = "OpenID Connect"
    default_scopes: ClassVar[tuple[str, ...]] = ("openid", "profile", "email")

    def __init__(
        self,
        *,
        issuer: str = "",
        username_claim: str = "preferred_username",
        groups_claim: str = "groups",
        clock_leeway: int = CLOCK_LEEWAY,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.clock_leeway = clock_leeway
        self.clock = clock  # wall clock for token times (replaceable, e.g. to test expiry)
        if not issuer:
            raise AuthConfigError(
                "The oidc authenticator needs the provider's issuer URL: set [hub.auth] "
                "oidc_issuer (e.g. https://login.example.org/realms/main)."
            )
        if "openid" not in self.scopes:
            self.scopes.insert(0, "openid")
        self.issuer = issuer.rstrip("/")
        self.username_claim = username_claim
        self.groups_claim = groups_claim
        self._metadata: dict[str, Any] | None = None
        self._jwks: KeySet | None = None
        self._jwks_fetched_at = 0.0

    def uses_nonce(self) -> bool:
        return True

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(**self.http_client_options) as client:
                response = await client.get(url)
                response.raise_for_status()
                data = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise _unreachable(error) from None
        if not isinstance(data, dict):
            raise _unreachable(ValueError(url))
        return data

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached; fetched on first use)."""
        if self._metadata is None:
            data = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if str(data.get("issuer", "")).rstrip("/") != self.issuer:
                raise OAuthLoginError(
                    502,
                    "Identity provider misconfigured",
                    "The provider's discovery document names a different issuer than the "
                    "hub is configured with; the administrators must fix [hub.auth] oidc_issuer.",
                )
            self._metadata = data
        return self._metadata

    async def endpoints(self) -> tuple[str, str]:
        meta = await self.metadata()
        return meta["authorization_endpoint"], meta["token_endpoint"]

    async def _keys(self, refresh: bool = False) -> KeySet:
        # A refresh (after a key rotation) happens at most once a minute, so forged
        # tokens cannot make the hub hammer the provider.
        stale = refresh and time.monotonic() - self._jwks_fetched_at > JWKS_MIN_REFRESH
        if self._jwks is None or stale:
            meta = await self.metadata()
            try:
                self._jwks = KeySet.import_key_set(await self._get_json(meta["jwks_uri"]))
            except (JoseError, ValueError, KeyError, TypeError) as error:
                raise _unreachable(error) from None
            self._jwks_fetched_at = time.monotonic()
        return self._jwks

    async def validate_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """Claims of a genuine ID token meant for us, or ``OAuthLoginError``."""
        meta = await self.metadata()
        algorithms = [
            alg
            for alg in meta.get("id_token_signing_alg_values_supported", ["RS256"])
            if alg != "none" and not alg.startswith("HS")
        ] or ["RS256"]
        try:
            try:
                decoded = jwt.decode(id_token, await self._keys(), algorithms=algorithms)
            except (JoseError, ValueError, KeyError):
                # Keys rotate: fetch the key set once more before giving up.
                decoded = jwt.decode(id_token, await self._keys(refresh=True), algorithms=algorithms)
            claims = dict(decoded.claims)
            jwt.JWTClaimsRegistry(
                now=lambda: int(self.clock()),
                leeway=self.clock_leeway,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(claims)
        except (JoseError, ValueError, KeyError, TypeError) as error:
            log.warning("rejected ID token: %s", type(error).__name__)
            raise OAuthLoginError(
                400,
                "Login could not be verified",
                "The identity token from the provider is invalid or expired "
                f"({type(error).__name__}). Start the login again.",
            ) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise OAuthLoginError(400, "Login could not be verified", "The identity token was issued to another application.")
        return claims

    async def identify(
        self, client: AsyncOAuth2Client, token: dict[str, Any], nonce: str
    ) -> AuthResult:
        id_token = token.get("id_token")
        if not id_token:
            raise OAuthLoginError(
                400,
                "No identity token",
                "The provider did not send an ID token; check that the 'openid' scope is allowed.",
            )
        claims = await self.validate_id_token(id_token, nonce)
        needs_userinfo = self.username_claim not in claims or (
            (self.allowed_groups or self.admin_groups) and self.groups_claim not in claims
        )
        meta = await self.metadata()
        if needs_userinfo and meta.get("userinfo_endpoint"):
            try:
                response = await client.get(meta["userinfo_endpoint"])
                response.raise_for_status()
                info = response.json()
            except (httpx.HTTPError, OAuthError, ValueError) as error:
                raise _unreachable(error) from None
            if isinstance(info, dict) and info.get("sub") == claims["sub"]:
                claims = {**info, **claims}
        name = claims.get(self.username_claim) or claims["sub"]
        groups = claims.get(self.groups_claim) or []
        if isinstance(groups, str):
            groups = [groups]
        return AuthResult(
            name=str(name),
            groups=[str(g) for g in groups],
            info={"claims": claims, "auth_time": int(time.time())},
        )


class GitHubAuthenticator(OAuthAuthenticator):
    """GitHub (or GitHub Enterprise) OAuth app; the user name is the GitHub ``login``.

    ``allowed_groups`` / ``admin_groups`` name GitHub organisations (this asks for
    the ``read:org`` scope).
    """

    name: ClassVar[str] = "github"
    login_service: ClassVar[str] = "GitHub"
    default_scopes: ClassVar[tuple[str, ...]] = ("read:user",)
    token_auth_method: ClassVar[str] = "client_secret_post"  # what GitHub documents

    def __init__(
        self,
        *,
        github_url: str = "https://github.com",
        github_api_url: str = "https://api.github.com",
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.github_url = github_url.rstrip("/")
        self.github_api_url = github_api_url.rstrip("/")
        # GitHub organisation names are case-insensitive; compare them lowercased.
        self.allowed_groups = {g.lower() for g in self.allowed_groups}
        self.admin_groups = {g.lower() for g in self.admin_groups}
        if (self.allowed_groups or self.admin_groups) and "read:org" not in self.scopes:
            self.scopes.append("read:org")

    async def endpoints(self) -> tuple[str, str]:
        return (
            f"{self.github_url}/login/oauth/authorize",
            f"{self.github_url}/login/oauth/access_token",
        )

    async def _api(self, client: AsyncOAuth2Client, path: str) -> Any:
        try:
            response = await client.get(
                f"{self.github_api_url}{path}", headers={"Accept": "application/vnd.github+json"}
            )
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, OAuthError, ValueError) as error:
            raise _unreachable(error) from None

    async def identify(
        self, client: AsyncOAuth2Client, token: dict[str, Any], nonce: str
    ) -> AuthResult:
        user = await self._api(client, "/user")
        login = user.get("login") if isinstance(user, dict) else None
        if not login:
            raise OAuthLoginError(502, "Unexpected answer from GitHub", "GitHub did not say who you are.")
        orgs: list[str] = []
        if self.allowed_groups or self.admin_groups:
            data = await self._api(client, "/user/orgs")
            orgs = [str(o.get("login", "")).lower() for o in data if isinstance(o, dict)]
        return AuthResult(name=str(login), groups=orgs, info={"github_user": user})
