"""Logging in through an external identity provider: the OAuth2 code flow every provider shares.

The authorization code flow with PKCE, driven by Authlib's httpx OAuth2 client:

1. ``GET /hub/oauth_login?next=/somewhere`` makes a fresh ``state``, ``nonce`` and
   PKCE verifier, keeps them in a short-lived signed cookie (so the hub needs no
   server-side session store) and redirects to the provider.
2. ``GET /hub/oauth_callback?code=..&state=..`` checks ``state`` against the cookie,
   exchanges the code (sending the PKCE verifier), lets the provider's subclass say
   who the person is (:mod:`bindery.hub.auth.oidc`, :mod:`bindery.hub.auth.github`),
   applies the allow/block lists and groups, and returns a
   :class:`~bindery.hub.auth.base.CompletedLogin`; the hub sets its login cookie and
   redirects to ``next``.

Every failure raises :class:`~bindery.hub.auth.errors.LoginError`, which the hub
shows as a short page with a 4xx status saying what happened and how to start
again -- never a traceback.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

import authlib.deprecate  # noqa: F401 - installs its own "always" filter; ours must come after it
import httpx
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import Field, SecretStr
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bindery.hub.auth.base import (
    HUB_PREFIX,
    AuthContext,
    Authenticator,
    AuthResult,
    CompletedLogin,
    LoginRoute,
)
from bindery.hub.auth.errors import AuthConfigError, LoginError
from bindery.hub.auth.names import is_valid_username, normalize_username
from bindery.hub.redirects import safe_next
from bindery.plugins import PluginOptions

with warnings.catch_warnings():
    # Authlib 1.6+ warns that it falls back to httpx when the newer httpx2 package is
    # absent; httpx is what the rest of Bindery uses, so the fallback is intended.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

__all__ = [
    "AsyncOAuth2Client",
    "OAuthAuthenticator",
    "OAuthError",
    "OAuthOptions",
    "unreachable",
]

log = logging.getLogger(__name__)

#: Cookie holding state/nonce/PKCE verifier between login and callback.
STATE_COOKIE = "bindery-oauth-state"
#: How long a person may spend at the provider before the login must restart.
STATE_MAX_AGE = 600
#: Seconds an HTTP request to the provider may take.
HTTP_TIMEOUT = 15.0
#: The routes, under ``/hub``: where the login starts and where the provider sends the browser back.
LOGIN_PATH = "/oauth_login"
CALLBACK_PATH = "/oauth_callback"
#: Where the browser goes after login when ``next`` is missing or not a local path.
DEFAULT_NEXT = "/hub/"


class OAuthOptions(PluginOptions):
    """Keys every OAuth provider shares (``[hub.auth]``, beside ``kind``)."""

    client_id: str = ""
    #: Put it in ``BINDERY_HUB__AUTH__CLIENT_SECRET``, not in the file; it never prints.
    client_secret: SecretStr | None = None
    #: Public callback URL registered with the provider, e.g.
    #: ``https://hub.example.org/hub/oauth_callback`` ("" = derived from the request).
    redirect_url: str = ""
    #: When set, only members of one of these groups may log in.
    allowed_groups: frozenset[str] = Field(default_factory=frozenset)
    #: Members of these groups are admins.
    admin_groups: frozenset[str] = Field(default_factory=frozenset)


def unreachable(error: Exception) -> LoginError:
    """The provider did not answer usefully; logged for the admins, said plainly to the person."""
    log.warning("identity provider unreachable: %s", type(error).__name__)
    return LoginError(
        502,
        "Identity provider unreachable",
        "The hub could not reach the identity provider. Try again in a moment.",
    )


def _provider_error(code: str, description: str) -> LoginError:
    if code == "access_denied":
        return LoginError(
            403,
            "Login cancelled",
            "The identity provider did not let you in (access was denied or you "
            "cancelled). You can try again.",
        )
    detail = f" ({description})" if description else ""
    return LoginError(
        400,
        "Login failed at the identity provider",
        f"The identity provider reported the error {code!r}{detail}.",
    )


class OAuthAuthenticator(Authenticator):
    """Shared machinery of the OAuth2 authorization-code authenticators.

    Subclasses say where the provider's endpoints are (``endpoints``) and who
    the person is once a token is in hand (``identify``).
    """

    options_model: ClassVar[type[PluginOptions]] = OAuthOptions
    uses_login_form: ClassVar[bool] = False
    login_service: ClassVar[str] = "OAuth"
    default_scopes: ClassVar[tuple[str, ...]] = ()
    #: How the client secret reaches the token endpoint.
    token_auth_method: ClassVar[str] = "client_secret_basic"

    def __init__(
        self,
        options: OAuthOptions,
        context: AuthContext,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = HTTP_TIMEOUT,
    ) -> None:
        """``transport`` and ``timeout`` shape every request to the provider (tests pass a fake)."""
        super().__init__(options, context)
        if not options.client_id:
            raise AuthConfigError(
                f"The {self.name} authenticator needs a client id: set [hub.auth] client_id "
                "(or BINDERY_HUB__AUTH__CLIENT_ID) to the one the provider gave you."
            )
        self.client_id = options.client_id
        self.client_secret = options.client_secret.get_secret_value() if options.client_secret else ""
        self.redirect_url = options.redirect_url
        self.scopes = list(self.default_scopes)
        self.allowed_groups = set(options.allowed_groups)
        self.admin_groups = set(options.admin_groups)
        # A per-process random secret works for one hub process; the hub passes
        # its own cookie secret so logins survive restarts and several workers.
        self._state_signer = URLSafeTimedSerializer(
            context.cookie_secret or secrets.token_bytes(32), salt="bindery-oauth-state"
        )
        self.transport = transport
        self.timeout = timeout

    # -- what subclasses provide ------------------------------------------------

    async def endpoints(self) -> tuple[str, str]:
        """(authorization URL, token URL)."""
        raise NotImplementedError

    async def identify(
        self, client: AsyncOAuth2Client, token: dict[str, Any], nonce: str
    ) -> AuthResult:
        """Who the token belongs to; raise ``LoginError`` when that cannot be trusted."""
        raise NotImplementedError

    def uses_nonce(self) -> bool:
        return False

    # -- the contract -------------------------------------------------------------

    def login_url(self, next_url: str) -> str:
        url = HUB_PREFIX + LOGIN_PATH
        return f"{url}?{urlencode({'next': next_url})}" if next_url else url

    def routes(self) -> list[LoginRoute]:
        return [
            LoginRoute(LOGIN_PATH, self.start_login, name="oauth_login"),
            LoginRoute(CALLBACK_PATH, self.complete_login, name="oauth_callback"),
        ]

    async def authenticate(self, request: Request, data: Mapping[str, str]) -> AuthResult | None:
        """No password form: people log in at the provider, through :meth:`login_url`."""
        return None

    def end_login(self, request: Request, response: Response) -> None:
        response.delete_cookie(STATE_COOKIE, path=self._cookie_path(request))

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

    def http_client(self) -> httpx.AsyncClient:
        """A client for plain requests to the provider (discovery, keys)."""
        return httpx.AsyncClient(transport=self.transport, timeout=self.timeout)

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret or None,
            scope=" ".join(self.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=self.token_auth_method,
            transport=self.transport,
            timeout=self.timeout,
        )

    @staticmethod
    def _cookie_path(request: Request) -> str:
        # The state cookie is only sent to our sibling routes, wherever the hub mounted us.
        return request.url.path.rsplit("/", 1)[0] + "/"

    def _redirect_uri(self, request: Request) -> str:
        if self.redirect_url:
            return self.redirect_url
        base_path = request.url.path.rsplit("/", 1)[0]
        return str(request.url.replace(path=base_path + CALLBACK_PATH, query=""))

    async def start_login(self, request: Request) -> Response:
        """Send the browser to the provider, remembering what the callback must check."""
        authorize_url, _ = await self.endpoints()
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
            "next": safe_next(request.query_params.get("next"), DEFAULT_NEXT),
        }
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            STATE_COOKIE,
            self._state_signer.dumps(pending),
            max_age=STATE_MAX_AGE,
            path=self._cookie_path(request),
            httponly=True,
            secure=request.url.scheme == "https",
            samesite="lax",  # must survive the top-level redirect back from the provider
        )
        return response

    async def complete_login(self, request: Request) -> CompletedLogin:
        """Who came back from the provider, checked against the lists; or ``LoginError`` saying why not."""
        params = request.query_params
        if "error" in params:
            raise _provider_error(params.get("error", ""), params.get("error_description", ""))
        if not params.get("code") or not params.get("state"):
            raise LoginError(
                400,
                "Incomplete login",
                "The identity provider sent you back without a code or state. "
                "Start the login again from the hub.",
            )
        pending = self._read_state_cookie(request, params["state"])
        result = await self._complete(params["code"], pending)
        if not self.check_allowed(result):
            raise LoginError(
                403,
                "Not allowed",
                f"You are signed in at the identity provider as {result.name!r}, "
                "but that user may not use this hub. Ask its administrators for access.",
            )
        result.admin = self.is_admin(result) or None
        return CompletedLogin(result, str(pending["next"]))

    # -- steps ----------------------------------------------------------------------

    def _read_state_cookie(self, request: Request, state: str) -> dict[str, Any]:
        raw = request.cookies.get(STATE_COOKIE)
        if not raw:
            raise LoginError(
                400,
                "Login session not found",
                "This login was not started in this browser, or cookies are blocked. "
                "Start the login again from the hub.",
            )
        try:
            pending = self._state_signer.loads(raw, max_age=STATE_MAX_AGE)
        except BadSignature:
            raise LoginError(
                400,
                "Login session expired",
                f"Logins must be finished within {STATE_MAX_AGE // 60} minutes. Start again.",
            ) from None
        if not isinstance(pending, dict) or not hmac.compare_digest(
            str(pending.get("state", "")).encode(), state.encode()
        ):
            raise LoginError(
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
                raise LoginError(
                    400,
                    "Login code refused",
                    "The identity provider refused to confirm this login "
                    f"({error.error}). Start the login again.",
                ) from None
            except httpx.HTTPError as error:
                raise unreachable(error) from None
            result = await self.identify(client, dict(token), pending["nonce"])
        name = normalize_username(result.name)
        if not is_valid_username(name):
            raise LoginError(
                403,
                "Unusable user name",
                f"The identity provider calls you {result.name!r}, which cannot be a hub user "
                "name (lowercase letters, digits, '-', '_' and '.'). The hub administrators can "
                "choose another claim with [hub.auth] username_claim.",
            )
        result.name = name
        return result
