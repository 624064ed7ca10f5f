"""Any OpenID Connect provider (Keycloak, Authentik, Azure AD, Google, Dex, ...).

The code flow itself is :mod:`bindery.hub.auth.oauth`; this module adds what OIDC
defines: discovery of the endpoints from the issuer, and the ID token, whose
signature (the provider's JWKS), issuer, audience, expiry and nonce are verified.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import Field

from bindery.hub.auth.base import AuthContext, AuthResult
from bindery.hub.auth.errors import AuthConfigError, LoginError
from bindery.hub.auth.oauth import (
    HTTP_TIMEOUT,
    AsyncOAuth2Client,
    OAuthAuthenticator,
    OAuthError,
    OAuthOptions,
    unreachable,
)
from bindery.plugins import PluginOptions

log = logging.getLogger(__name__)

#: Clock skew tolerated when checking ID-token times (seconds).
CLOCK_LEEWAY = 60
#: Seconds between two fetches of the provider's signing keys.
JWKS_MIN_REFRESH = 60
DEFAULT_SCOPES = ("openid", "profile", "email")


class OIDCOptions(OAuthOptions):
    """The ``oidc`` authenticator's keys in ``[hub.auth]``."""

    #: Issuer URL; its ``/.well-known/openid-configuration`` is read at first use.
    oidc_issuer: str = ""
    #: Scopes asked for ("openid" is always added).
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES))
    #: ID-token claim that becomes the user name (falls back to ``sub``).
    username_claim: str = "preferred_username"
    #: ID-token / userinfo claim listing the person's groups.
    groups_claim: str = "groups"


class OIDCAuthenticator(OAuthAuthenticator):
    """Log in at an OpenID Connect provider; the user name is a claim of the ID token."""

    name: ClassVar[str] = "oidc"
    options_model: ClassVar[type[PluginOptions]] = OIDCOptions
    login_service: ClassVar[str] = "OpenID Connect"
    default_scopes: ClassVar[tuple[str, ...]] = DEFAULT_SCOPES

    def __init__(
        self,
        options: OIDCOptions,
        context: AuthContext,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = HTTP_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` is the wall clock for token times (replaceable, e.g. to test expiry)."""
        super().__init__(options, context, transport=transport, timeout=timeout)
        self.clock = clock
        if not options.oidc_issuer:
            raise AuthConfigError(
                "The oidc authenticator needs the provider's issuer URL: set [hub.auth] "
                "oidc_issuer (e.g. https://login.example.org/realms/main)."
            )
        self.scopes = list(options.scopes) or list(DEFAULT_SCOPES)
        if "openid" not in self.scopes:
            self.scopes.insert(0, "openid")
        self.issuer = options.oidc_issuer.rstrip("/")
        self.username_claim = options.username_claim
        self.groups_claim = options.groups_claim
        self._metadata: dict[str, Any] | None = None
        self._jwks: KeySet | None = None
        self._jwks_fetched_at = 0.0

    def uses_nonce(self) -> bool:
        return True

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self.http_client() as client:
                response = await client.get(url)
                response.raise_for_status()
                data = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise unreachable(error) from None
        if not isinstance(data, dict):
            raise unreachable(ValueError(url))
        return data

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached; fetched on first use)."""
        if self._metadata is None:
            data = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if str(data.get("issuer", "")).rstrip("/") != self.issuer:
                raise LoginError(
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
                self._jwks = KeySet.import_key_set(await self._get_json(meta["jwks_uri"]))  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError) as error:
                raise unreachable(error) from None
            self._jwks_fetched_at = time.monotonic()
        return self._jwks

    async def validate_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        """Claims of a genuine ID token meant for us, or ``LoginError``."""
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
                leeway=CLOCK_LEEWAY,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(claims)
        except (JoseError, ValueError, KeyError, TypeError) as error:
            log.warning("rejected ID token: %s", type(error).__name__)
            raise LoginError(
                400,
                "Login could not be verified",
                "The identity token from the provider is invalid or expired "
                f"({type(error).__name__}). Start the login again.",
            ) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise LoginError(400, "Login could not be verified",
                             "The identity token was issued to another application.")
        return claims

    async def identify(
        self, client: AsyncOAuth2Client, token: dict[str, Any], nonce: str
    ) -> AuthResult:
        id_token = token.get("id_token")
        if not id_token:
            raise LoginError(
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
                raise unreachable(error) from None
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
