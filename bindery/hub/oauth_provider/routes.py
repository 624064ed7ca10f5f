"""``/hub/api/oauth2/authorize`` (browser: consent, then a code) and ``/token`` (code → token).

The decisions live in :mod:`.provider`; this module reads requests and writes the
answers in the shapes clients expect: a redirect carrying ``code`` and ``state`` (or
``error``), the hub's error page for a request that names no trustworthy client or
redirect URI, and RFC 6749 JSON (``{"error": ..., "error_description": ...}``) from
the token endpoint, which ``HubOAuth`` reads.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bindery.hub.api.access import principal_from_cookie
from bindery.hub.context import hub_of
from bindery.hub.db.models import User
from bindery.hub.oauth_provider.provider import (
    PKCE_METHODS,
    Grant,
    OAuthError,
    access_scopes,
    authenticate_client,
    exchange_code,
    find_client,
    identify_scopes,
    issue_code,
    may_access,
    needs_consent,
    resolve_scopes,
    user_scopes,
)
from bindery.hub.pages import error_page, render
from bindery.hub.security import xsrf_ok

#: Descriptions of scopes on the consent page (JupyterHub's meanings, our words).
_DESCRIPTIONS = {
    "read:users:name": "See your user name.",
    "read:users:groups": "See which groups you are in.",
    "read:users": "Read your user model (name, activity, servers' state).",
    "read:servers": "See your servers and whether they run.",
    "servers": "Start and stop your servers.",
    "access:servers": "Use your servers.",
    "access:services": "Use services on this hub.",
    "tokens": "Create and revoke API tokens in your name.",
    "read:tokens": "See your API tokens.",
    "users:activity": "Report your activity.",
    "self": "Everything you can do on this hub.",
}


def _with_params(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit(parts._replace(query=query))


def _error_redirect(redirect_uri: str, err: OAuthError, state: str | None) -> Response:
    params = {"error": err.error, "error_description": err.description}
    if state is not None:
        params["state"] = state
    return RedirectResponse(_with_params(redirect_uri, params), status_code=302)


def _login_redirect(request: Request) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/hub/login?{urlencode({'next': here})}", status_code=302)


async def authorize(request: Request) -> Response:
    """GET: check the request, then consent page or straight back with a code; POST: consent given."""
    hub = hub_of(request)
    principal = principal_from_cookie(request)
    if principal is None or principal.user_name is None:
        if request.method == "POST":
            return error_page(request, 403, "Your login ended before you answered; log in "
                                            "and open the service again.")
        return _login_redirect(request)
    form: dict[str, list[str]] = {}
    if request.method == "POST":
        raw = await request.form()
        form = {key: [v for v in raw.getlist(key) if isinstance(v, str)] for key in raw}
        if not xsrf_ok(request, hub.signer, (form.get("_xsrf") or [""])[0]):
            return error_page(request, 403, "The form had expired or came from another site "
                                            "(XSRF check failed). Open the service again.")
    params = request.query_params
    state = params.get("state")
    with hub.db() as s:
        client = find_client(s, params.get("client_id", ""))
        if client is None:
            return error_page(request, 400, "This login was requested by an application the "
                                            f"hub does not know (client_id "
                                            f"{params.get('client_id', '')[:80]!r}).")
        redirect_uri = params.get("redirect_uri") or client.redirect_uri
        if redirect_uri != client.redirect_uri:
            return error_page(request, 400, "The application asked to be sent back to an address "
                                            "it has not registered (redirect_uri mismatch); the "
                                            "hub does not send you there.")
        user = s.scalars(select(User).where(User.name == principal.user_name)).one()
        held = user_scopes(user, hub.settings.extra_user_scopes)
        if not may_access(user, held, client):
            return error_page(request, 403, f"You do not have permission to access "
                                            f"{client.description or client.identifier}.")
        try:
            if params.get("response_type") != "code":
                raise OAuthError("unsupported_response_type",
                                 "Only response_type=code is supported.")
            challenge = params.get("code_challenge") or None
            method = params.get("code_challenge_method") or ("plain" if challenge else None)
            if challenge is not None and method not in PKCE_METHODS:
                raise OAuthError("invalid_request", "code_challenge_method must be S256 or plain.")
            requested = params.get("scope", "").split()
            scopes = resolve_scopes(user, held, client, requested)
        except OAuthError as err:
            return _error_redirect(redirect_uri, err, state)
        if request.method == "POST":
            # The user may drop scopes on the page, never add any.
            chosen = set(form.get("scopes", []))
            scopes = (chosen & scopes) | identify_scopes(user.name) | access_scopes(client)
        elif needs_consent(s, user, client, scopes):
            described = [(scope, _DESCRIPTIONS.get(scope.partition("!")[0], scope))
                         for scope in sorted(scopes)]
            return render(request, "oauth.html", principal=principal,
                          client=client.description or client.identifier,
                          scopes=described, action=request.url.path + "?" + request.url.query)
        grant = Grant(client=client, redirect_uri=redirect_uri, scopes=frozenset(scopes),
                      code_challenge=challenge, code_challenge_method=method)
        code = issue_code(s, user, grant)
    back = {"code": code}
    if state is not None:
        back["state"] = state
    return RedirectResponse(_with_params(redirect_uri, back), status_code=302)


def _token_error(err: OAuthError) -> Response:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if err.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="hub oauth2"'
    return JSONResponse({"error": err.error, "error_description": err.description},
                        status_code=err.status, headers=headers)


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """Client id and secret from HTTP Basic (RFC 6749 2.3.1) or the form body."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


async def token(request: Request) -> Response:
    """``grant_type=authorization_code``: the code, the client's credentials, PKCE's verifier."""
    hub = hub_of(request)
    try:
        raw = await request.form()
    except Exception:  # noqa: BLE001 - an unreadable body is the client's mistake
        return _token_error(OAuthError("invalid_request", "Send the request as "
                                       "application/x-www-form-urlencoded."))
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    try:
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type",
                             "Only grant_type=authorization_code is supported.")
        if not form.get("code"):
            raise OAuthError("invalid_request", "The 'code' parameter is missing.")
        client_id, secret = _client_credentials(request, form)
        with hub.db() as s:
            client = authenticate_client(s, client_id, secret)
            issued = exchange_code(s, client, form["code"], form.get("redirect_uri", ""),
                                   form.get("code_verifier", ""), hub.settings.cookie_max_age)
    except OAuthError as err:
        return _token_error(err)
    return JSONResponse(
        {"access_token": issued.token, "token_type": "Bearer", "expires_in": issued.expires_in,
         "scope": " ".join(issued.scopes)},
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def oauth_routes() -> list[BaseRoute]:
    return [
        Route("/hub/api/oauth2/authorize", authorize, methods=["GET", "POST"]),
        Route("/hub/api/oauth2/token", token, methods=["POST"]),
    ]
