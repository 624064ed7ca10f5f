"""The rules of the OAuth provider, on the database: clients, scopes, consent, codes, tokens.

The HTTP handlers (:mod:`.routes`) only parse requests and shape answers; every
decision is made here, following JupyterHub's provider (facts read from its source):

- a client is a configured service (``service-<name>``) or a user's server
  (``jupyterhub-user-<name>[-<server>]``); its secret is the API token the hub gave
  it, and the redirect URI of a request must equal the registered one exactly;
- a user may authorize a client only if they may access what it is: their own (or,
  for admins, anyone's) server, or a service (admins, or ``access:services`` in
  ``[hub] extra_user_scopes``);
- the token always carries "identify the user" and "access this client" and, of the
  scopes the client asked for within its allowed ones, those the user holds;
- no consent page for the user's own servers, for services marked ``oauth_no_confirm``,
  and when the user already holds a token of that client covering the same scopes;
- a code is good once, for five minutes, for its client only; PKCE (``S256`` or
  ``plain``) is checked when the authorization request carried a challenge.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bindery.hub.db.models import ApiToken, User, utcnow
from bindery.hub.oauth_provider.models import OAuthClient, OAuthCode, OAuthTokenClient
from bindery.hub.scopes import has_scope, owner_scopes
from bindery.hub.services import ServiceSettings
from bindery.hub.tokens import PREFIX_LENGTH, hash_token, new_token

#: Seconds an authorization code stays valid (JupyterHub: five minutes).
CODE_LIFETIME = 300
PKCE_METHODS = ("S256", "plain")


class OAuthError(Exception):
    """An OAuth failure with its RFC 6749 ``error`` code and a sentence for a person.

    ``fatal`` errors are shown on the hub's own page (an unknown client or redirect URI
    must never be trusted with a redirect); the others go back to the client.
    """

    def __init__(self, error: str, description: str, *, status: int = 400,
                 fatal: bool = False) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.fatal = fatal


# -- clients -------------------------------------------------------------------


def server_client_id(user: str, server_name: str = "") -> str:
    """JupyterHub's client id of a user's server (names quoted, as in its cookie names)."""
    client_id = f"jupyterhub-user-{quote(user, safe='')}"
    return f"{client_id}-{quote(server_name, safe='')}" if server_name else client_id


def server_access_scope(user: str, server_name: str = "") -> str:
    return f"access:servers!server={user}/{server_name}"


def server_token_scopes(user: str, server_name: str = "") -> list[str]:
    """What a server's own API token may do (JupyterHub's ``server`` role): post activity,
    and be accepted by the server itself."""
    return [f"users:activity!user={user}", server_access_scope(user, server_name)]


def register_server_client(session: Session, user: User, server_name: str, token: str,
                           base_url: str) -> None:
    """Make ``token`` the server's API token and OAuth client secret (the caller commits).

    Called when the hub starts a server: the token row lets the server check tokens
    with ``GET /hub/api/user`` and post activity; the client lets it log browsers in.
    """
    forget_server_client(session, user, server_name)
    session.add(ApiToken(hashed=hash_token(token), prefix=token[:PREFIX_LENGTH], user=user,
                         scopes=server_token_scopes(user.name, server_name),
                         note=f"Server token of {user.name}/{server_name}", created=utcnow()))
    session.add(OAuthClient(
        identifier=server_client_id(user.name, server_name),
        secret_hash=hash_token(token),
        redirect_uri=f"{base_url}oauth_callback",
        description=f"Server at {base_url}",
        allowed_scopes=[], kind="server", user=user, server_name=server_name,
        no_confirm=False, created=utcnow(),
    ))


def forget_server_client(session: Session, user: User, server_name: str) -> None:
    """Drop a stopped server's client and its server token (tokens it issued stay valid
    until they expire, as JupyterHub's do). The caller commits."""
    client = session.scalars(select(OAuthClient).where(
        OAuthClient.identifier == server_client_id(user.name, server_name))).first()
    if client is None:
        return
    session.execute(delete(ApiToken).where(ApiToken.hashed == client.secret_hash))
    session.delete(client)


def sync_service_clients(session: Session, services: Sequence[ServiceSettings]) -> None:
    """Make the service clients in the database those of the configuration (at start-up).

    Clients of services no longer configured go, with the consent their tokens carried.
    The caller commits.
    """
    wanted = {svc.client_id: svc for svc in services if svc.uses_oauth}
    existing = {c.identifier: c for c in session.scalars(
        select(OAuthClient).where(OAuthClient.kind == "service"))}
    for identifier, client in existing.items():
        if identifier not in wanted:
            # Its users' tokens go too (JupyterHub deletes a client's tokens with it).
            issued = select(OAuthTokenClient.token_id).where(
                OAuthTokenClient.client_id == client.id)
            session.execute(delete(ApiToken).where(ApiToken.id.in_(issued)))
            session.delete(client)
    for identifier, svc in wanted.items():
        client = existing.get(identifier) or OAuthClient(identifier=identifier, kind="service",
                                                         created=utcnow())
        session.add(client)
        client.secret_hash = hash_token(svc.api_token)
        client.redirect_uri = svc.redirect_uri
        client.description = f"Service {svc.name}"
        client.allowed_scopes = list(svc.oauth_client_allowed_scopes)
        client.service = svc.name
        client.no_confirm = svc.oauth_no_confirm


def find_client(session: Session, client_id: str) -> OAuthClient | None:
    if not client_id or len(client_id) > 255:
        return None
    return session.scalars(select(OAuthClient).where(OAuthClient.identifier == client_id)).first()


def authenticate_client(session: Session, client_id: str, secret: str) -> OAuthClient:
    """The client whose id and secret these are; ``invalid_client`` (401) otherwise."""
    client = find_client(session, client_id)
    if client is None or not secret or not hmac.compare_digest(client.secret_hash,
                                                               hash_token(secret)):
        raise OAuthError("invalid_client", "Unknown OAuth client or wrong client secret.",
                         status=401)
    return client


# -- scopes ----------------------------------------------------------------------


def identify_scopes(user: str) -> set[str]:
    return {f"read:users:name!user={user}", f"read:users:groups!user={user}"}


def access_scopes(client: OAuthClient) -> set[str]:
    if client.kind == "server" and client.user is not None:
        return {server_access_scope(client.user.name, client.server_name or "")}
    return {f"access:services!service={client.service}"}


def _for_user(scope: str, user: str) -> str:
    """``x!user`` (the token's owner, JupyterHub's short form) → ``x!user=<owner>``."""
    return f"{scope}={user}" if scope.endswith("!user") else scope


def user_scopes(user: User, extra_user_scopes: Iterable[str]) -> frozenset[str]:
    """What ``user`` holds: their own things (all for an admin) plus the deployment's extras.

    A temporary user (a Binder visitor) gets no extras: visitors may only use the one
    server the binder started for them.
    """
    if user.kind == "temporary":
        return owner_scopes(user.admin, temporary_name=user.name)
    return owner_scopes(user.admin) | frozenset(extra_user_scopes)


def holds(user: User, held: frozenset[str], scope: str) -> bool:
    """Does a user holding ``held`` hold ``scope`` (filters included)?"""
    if scope in held or (user.admin and "admin" in held):
        return True
    base, _, filt = scope.partition("!")
    if base in held:
        return True
    target = filt.removeprefix("user=") if filt.startswith("user=") else None
    if filt.startswith("server="):
        target = filt.removeprefix("server=").split("/", 1)[0]
    if filt and target is None:
        return False
    return has_scope(held, base, principal_user=user.name, target_user=target,
                     owner_admin=user.admin)


def may_access(user: User, held: frozenset[str], client: OAuthClient) -> bool:
    """May ``user`` use what ``client`` is (the server, the service)?"""
    if client.kind == "server":
        owner = client.user.name if client.user is not None else None
        return owner is not None and has_scope(held, "access:servers", principal_user=user.name,
                                               target_user=owner, owner_admin=user.admin)
    return user.admin or "access:services" in held or (
        f"access:services!service={client.service}" in held)


def resolve_scopes(user: User, held: frozenset[str], client: OAuthClient,
                   requested: Iterable[str]) -> set[str]:
    """The scopes a token of ``client`` for ``user`` gets: required ones plus the requested
    ones the client may ask for *and* the user holds. ``invalid_scope`` if the client asks
    for more than it is allowed."""
    required = identify_scopes(user.name) | access_scopes(client)
    allowed = {_for_user(s, user.name) for s in client.allowed_scopes} | required
    asked = {_for_user(s, user.name) for s in requested if s and s != "identify"}
    beyond = asked - allowed
    if beyond:
        raise OAuthError("invalid_scope", f"The client {client.identifier!r} may not ask for: "
                                          f"{', '.join(sorted(beyond))}.")
    granted = set(required)
    for scope in asked:
        if holds(user, held, scope):
            granted.add(scope)
        elif "!" not in scope and holds(user, held, f"{scope}!user={user.name}"):
            granted.add(f"{scope}!user={user.name}")  # what the user holds of it: their own
    return granted


def needs_consent(session: Session, user: User, client: OAuthClient, scopes: set[str]) -> bool:
    """JupyterHub's rule: ask, unless it is the user's own server, a trusted service, or the
    user already holds a token of this client covering ``scopes``."""
    if client.kind == "server" and client.user_id == user.id:
        return False
    if client.no_confirm:
        return False
    granted: set[str] = set()
    rows = session.scalars(
        select(ApiToken).join(OAuthTokenClient, OAuthTokenClient.token_id == ApiToken.id)
        .where(OAuthTokenClient.client_id == client.id, ApiToken.user_id == user.id))
    now = utcnow()
    for row in rows:
        if row.expires_at is None or row.expires_at > now:
            granted.update(row.scopes)
    return not (granted and scopes <= granted)


# -- codes and tokens --------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """A checked authorization request, ready to become a code."""

    client: OAuthClient
    redirect_uri: str
    scopes: frozenset[str]
    code_challenge: str | None
    code_challenge_method: str | None


def issue_code(session: Session, user: User, grant: Grant) -> str:
    """A new one-time code for ``grant`` (stored hashed; expired codes are dropped). Commits."""
    now = utcnow()
    session.execute(delete(OAuthCode).where(OAuthCode.expires_at < now))
    code = secrets.token_urlsafe(32)
    session.add(OAuthCode(
        hashed=hash_token(code), client_id=grant.client.id, user_id=user.id,
        scopes=sorted(grant.scopes), redirect_uri=grant.redirect_uri,
        code_challenge=grant.code_challenge, code_challenge_method=grant.code_challenge_method,
        expires_at=now + dt.timedelta(seconds=CODE_LIFETIME),
    ))
    session.commit()
    return code


def _pkce_ok(challenge: str, method: str | None, verifier: str) -> bool:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        computed = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    else:
        computed = verifier
    return hmac.compare_digest(computed, challenge)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    scopes: list[str]
    expires_in: int


def exchange_code(session: Session, client: OAuthClient, code: str, redirect_uri: str,
                  code_verifier: str, expires_in: int) -> IssuedToken:
    """Trade a code for an API token of its user (the code is spent either way). Commits."""
    row = session.scalars(select(OAuthCode).where(OAuthCode.hashed == hash_token(code))).first() \
        if code and len(code) <= 256 else None
    if row is None:
        raise OAuthError("invalid_grant", "The authorization code is unknown or was used already.")
    session.delete(row)  # single use, even when the exchange below fails
    session.commit()
    if row.client_id != client.id:
        raise OAuthError("invalid_grant", "The authorization code was issued to another client.")
    if row.expires_at <= utcnow():
        raise OAuthError("invalid_grant", "The authorization code has expired; log in again.")
    if redirect_uri and redirect_uri != row.redirect_uri:
        raise OAuthError("invalid_request", "redirect_uri differs from the one of the "
                                            "authorization request.")
    if row.code_challenge is not None:
        if not code_verifier:
            raise OAuthError("invalid_request", "code_verifier is required (the authorization "
                                                "request sent a PKCE code_challenge).")
        if not _pkce_ok(row.code_challenge, row.code_challenge_method, code_verifier):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge.")
    token = new_token()
    api_token = ApiToken(
        hashed=hash_token(token), prefix=token[:PREFIX_LENGTH], user=row.user,
        scopes=list(row.scopes), note=f"OAuth token for {client.description or client.identifier}",
        created=utcnow(), expires_at=utcnow() + dt.timedelta(seconds=expires_in),
    )
    session.add(api_token)
    session.flush()
    session.add(OAuthTokenClient(token_id=api_token.id, client_id=client.id))
    session.commit()
    return IssuedToken(token=token, scopes=list(row.scopes), expires_in=expires_in)
