"""Handing a hub login over to a user's server: a one-time code, spent by the proxy.

The hub's login cookie is valid for ``/hub/`` on the hub's host only, so a browser
opening ``/user/alice/`` (or ``alice.hub.example.org``) carries no proof of who it is.
As with JupyterHub's OAuth round trip, the proxy sends it to the hub's login page; the
hub, seeing a login, sends it back with ``?bindery-login=<code>``. The proxy gives the
code to the hub's authorize endpoint, which answers with a ``bindery-server`` pass for
that server's path on that server's host, and the proxy drops the code from the address.

A code is signed, names the login (by its stored hash) and the server's owner, lives
60 seconds and is accepted once: a code seen by the server's page (it never should,
the proxy strips it) is already spent.
"""

from __future__ import annotations

import secrets
import time

from itsdangerous import BadSignature, URLSafeTimedSerializer

#: Seconds between the hub issuing a code and the proxy spending it.
CODE_LIFETIME = 60


class HandoffCodes:
    """Issues and redeems one-time login codes (kept in memory: one hub process)."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="bindery-login-handoff")
        self._spent: dict[str, float] = {}

    def issue(self, session_hash: str, user: str) -> str:
        """A code that lets the proxy hand login ``session_hash`` to ``user``'s servers."""
        return self._serializer.dumps([session_hash, user, secrets.token_urlsafe(12)])

    def redeem(self, code: str, user: str) -> str | None:
        """The login's stored hash if ``code`` is fresh, unspent and for ``user``'s servers."""
        if not code or len(code) > 1024:
            return None
        try:
            data = self._serializer.loads(code, max_age=CODE_LIFETIME)
        except (BadSignature, ValueError, TypeError):
            return None
        if not (isinstance(data, list) and len(data) == 3
                and all(isinstance(part, str) for part in data)):
            return None
        session_hash, owner, nonce = data
        now = time.monotonic()
        self._spent = {n: t for n, t in self._spent.items() if t > now}
        if owner != user or nonce in self._spent:
            return None
        self._spent[nonce] = now + CODE_LIFETIME + 5
        return session_hash
