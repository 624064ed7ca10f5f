"""Login cookie, XSRF protection and security headers of the hub.

The login cookie ``bindery-session`` is signed (itsdangerous, as Starlette's own
sessions), HttpOnly, SameSite=Lax, path ``/hub/`` and host-only (no ``Domain``): the
browser never sends it to a user's server, even one on the hub's origin. It names a
server-side login (:mod:`bindery.hub.sessions`). Secure when the public URL is https.
Only a real login (the login page or an authenticator) ever sets it.

A user's server is reached with a ``bindery-server`` cookie instead, path
``/user/<name>/`` only, set through the proxy on that server's own host. It is signed
and names either the login it was handed over from (:class:`ServerPass` with
``session``, through a one-time code, see :mod:`bindery.hub.handoff`) or, for a
``?token=`` link, the token: the hub re-checks that login or token on every request,
so logging out or revoking the token ends the access.

XSRF: the token is derived from the login session (an HMAC of its key), so it is not
in any cookie a script could read and dies with the login. Pages carry it in hidden
``_xsrf`` fields; scripts send it in ``X-XSRFToken``. Before login, the login form is
protected by a random value in the HttpOnly ``bindery-xsrf`` cookie (path ``/hub/``).
Token-authenticated API calls are exempt: a browser never adds a token by itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "bindery-session"
#: The cookie a ``?token=`` link to a user server leaves behind (see the module docstring).
SERVER_COOKIE = "bindery-server"
#: The pre-login XSRF cookie (HttpOnly): protects the login form only.
XSRF_COOKIE = "bindery-xsrf"
#: Where the hub's own cookies are valid: never on users' servers.
HUB_COOKIE_PATH = "/hub/"
XSRF_HEADER = "X-XSRFToken"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Query parameters and headers whose values must never reach a log.
_SECRET_QUERY = re.compile(
    r"((?:^|[?&])(?:token|proxy_token|_xsrf|access_token|code|state|password)=)[^&\s]*",
    re.IGNORECASE,
)


def _read_signed(serializer: URLSafeTimedSerializer, value: str, max_age: int) -> object:
    """The payload of a signed cookie value, or ``None`` when it is oversized, forged or old."""
    if not value or len(value) > 4096:
        return None
    try:
        return serializer.loads(value, max_age=max_age)
    except (BadSignature, ValueError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class LoginCookie:
    """What a ``bindery-session`` cookie says: "login ``key`` of ``name``" (checked in the DB)."""

    name: str
    key: str


class SessionSigner:
    """Makes and reads the login cookie's value (and, with its own salt, server passes)."""

    def __init__(self, secret: str, max_age: int) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="bindery-session")
        self.max_age = max_age
        self.server_passes = ServerPassSigner(secret, max_age)
        self._xsrf_key = hmac.new(secret.encode(), b"bindery-xsrf", hashlib.sha256).digest()
        self.secret = secret

    def xsrf_for(self, key: str) -> str:
        """The XSRF token of login ``key``: fixed for that login, useless without it."""
        return hmac.new(self._xsrf_key, key.encode("utf-8", "surrogateescape"),
                        hashlib.sha256).hexdigest()[:40]

    def dumps(self, name: str, key: str) -> str:
        """The cookie value of login ``key`` (see :mod:`bindery.hub.sessions`) of ``name``."""
        return self.serializer.dumps({"name": name, "sid": key})

    def loads(self, value: str) -> LoginCookie | None:
        data = _read_signed(self.serializer, value, self.max_age)
        if not isinstance(data, dict):
            return None
        name, key = data.get("name"), data.get("sid")
        if not isinstance(name, str) or not isinstance(key, str):
            return None
        return LoginCookie(name=name, key=key)


@dataclass(frozen=True, slots=True)
class ServerPass:
    """What a ``bindery-server`` cookie says: "token ``token_id`` opened ``user``'s server"."""

    token_id: int
    #: The start of the token's stored hash, so a reused row id never revives an old cookie.
    fingerprint: str
    user: str
    #: For a pass handed over from a login: that login's stored hash (``token_id`` is 0).
    session: str = ""


class ServerPassSigner:
    """Makes and reads ``bindery-server`` cookie values (signed, never a secret in clear)."""

    def __init__(self, secret: str, max_age: int) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="bindery-server-pass")
        self.max_age = max_age

    def dumps(self, grant: ServerPass) -> str:
        if grant.session:
            return self.serializer.dumps(["login", grant.session, grant.user])
        return self.serializer.dumps([grant.token_id, grant.fingerprint, grant.user])

    def loads(self, value: str) -> ServerPass | None:
        data = _read_signed(self.serializer, value, self.max_age)
        if (
            isinstance(data, list) and len(data) == 3 and data[0] == "login"
            and all(isinstance(part, str) for part in data[1:])
        ):
            return ServerPass(token_id=0, fingerprint="", user=data[2], session=data[1])
        if (
            not isinstance(data, list)
            or len(data) != 3
            or not isinstance(data[0], int)
            or not all(isinstance(part, str) for part in data[1:])
        ):
            return None
        return ServerPass(token_id=data[0], fingerprint=data[1], user=data[2])


def server_pass_cookie_header(
    signer: ServerPassSigner, grant: ServerPass, path: str, secure: bool
) -> str:
    """The ``Set-Cookie`` value of a server pass: valid under ``path`` (one user's servers) only."""
    response = Response()
    response.set_cookie(
        SERVER_COOKIE,
        signer.dumps(grant),
        max_age=signer.max_age,
        path=path,
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return response.headers["set-cookie"]


def set_session_cookie(response: Response, value: str, max_age: int, secure: bool) -> None:
    """Set ``bindery-session`` to ``value`` (from ``Hub.login_cookie``), for ``/hub/`` only."""
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        path=HUB_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def clear_session_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path=HUB_COOKIE_PATH, httponly=True, samesite="lax",
                           secure=secure)
    # A cookie from before 2026-12 (path "/") would otherwise linger.
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure)


def hub_cookie(request: Request, name: str) -> str:
    """The value of the hub's cookie ``name``, or "" when the browser sent it more than once.

    A page on a user's subdomain can set a cookie for the parent domain ("cookie
    tossing"); the browser then sends two cookies of that name to the hub, and the
    planted one may be read instead of the real one (a login switched to the
    attacker's). Two of a kind count as none: the worst a planted cookie can do is
    log the browser out.
    """
    raw = request.headers.get("cookie", "")
    seen = sum(1 for part in raw.split(";") if part.split("=", 1)[0].strip() == name)
    return request.cookies.get(name, "") if seen == 1 else ""


def xsrf_token(request: Request, signer: SessionSigner) -> str:
    """The XSRF value for this browser: its login's, else the pre-login cookie's (or a new one)."""
    login = signer.loads(hub_cookie(request, SESSION_COOKIE))
    if login is not None:
        return signer.xsrf_for(login.key)
    existing = hub_cookie(request, XSRF_COOKIE)
    if re.fullmatch(r"[A-Za-z0-9_-]{20,64}", existing):
        return existing
    token = request.scope.setdefault("bindery.new_xsrf", secrets.token_urlsafe(24))
    return str(token)


def xsrf_ok(request: Request, signer: SessionSigner, submitted: str | None) -> bool:
    """Does ``submitted`` match this browser's XSRF value (see :func:`xsrf_token`)?"""
    if not submitted:
        return False
    login = signer.loads(hub_cookie(request, SESSION_COOKIE))
    expected = signer.xsrf_for(login.key) if login else hub_cookie(request, XSRF_COOKIE)
    return bool(expected) and hmac.compare_digest(expected, str(submitted))


def cross_origin(request: Request) -> bool:
    """A browser request from another origin than the one it is sent to (``Origin`` vs ``Host``).

    With users' servers on their own subdomains, a script on alice's server is another
    origin: the hub refuses its cookie-authenticated changes even if it knew a token.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host", "")
    netloc = origin.split("://", 1)[-1].rstrip("/").lower()
    return not host or netloc != host.lower()


def redact(text: str) -> str:
    """``/x?token=abc`` → ``/x?token=[secret]`` (for access logs)."""
    return _SECRET_QUERY.sub(r"\1[secret]", text)


class SecurityHeadersMiddleware:
    """Adds CSP ``frame-ancestors``, ``X-Content-Type-Options``, the XSRF cookie; times requests."""

    def __init__(
        self,
        app: ASGIApp,
        frame_ancestors: str,
        secure: bool,
        metrics: Any = None,
        access_log: Any = None,
    ) -> None:
        self.app = app
        self.csp = f"frame-ancestors {frame_ancestors}"
        self.secure = secure
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.csp)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
                new_xsrf = scope.get("bindery.new_xsrf")
                if new_xsrf:
                    cookie = (f"{XSRF_COOKIE}={new_xsrf}; Path={HUB_COOKIE_PATH}; HttpOnly; "
                              "SameSite=Lax")
                    if self.secure:
                        cookie += "; Secure"
                    headers.append("Set-Cookie", cookie)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            handler = getattr(route, "path", "unmatched")
            if self.metrics is not None:
                self.metrics.request_duration.labels(
                    scope["method"], handler, str(status["code"])
                ).observe(elapsed)
            if self.access_log is not None:
                query = scope.get("query_string", b"").decode("latin-1")
                path = scope["path"] + (f"?{query}" if query else "")
                self.access_log.info(
                    "%s %s %s %.1fms", status["code"], scope["method"], redact(path), elapsed * 1000
                )
