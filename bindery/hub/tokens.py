"""API tokens: made from 256 random bits, stored only as SHA-256 plus a 4-character prefix.

A SHA-256 (not a slow password hash) is right here: the token has full entropy,
so it cannot be guessed offline, and every API request must look it up quickly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bindery.hub.db.models import ApiToken, User, utcnow
from bindery.hub.scopes import check_scopes, visitor_scopes

PREFIX_LENGTH = 4
FINGERPRINT_LENGTH = 16
#: A token is looked up again only after this long, so activity writes stay cheap.
ACTIVITY_RESOLUTION = dt.timedelta(seconds=30)


def new_token() -> str:
    return secrets.token_hex(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass
class Principal:
    """Who made a request: a user (by cookie or token) or a service token."""

    name: str
    scopes: frozenset[str]
    #: The user's name, or None for a service token.
    user_name: str | None = None
    #: The owning user is an admin (then ``self`` means everything).
    owner_admin: bool = False
    token_id: int | None = None
    #: "cookie", "token" or "server-pass" (a ``?token=`` link's cookie, good for one user's
    #: servers only): cookie-authenticated changes need an XSRF check.
    via: str = "token"
    #: For "login-pass" (a login handed over to a user's server): that login's stored hash.
    session_hash: str = ""

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes or ("self" in self.scopes and self.owner_admin)


def create_token(
    session: Session,
    *,
    user: User | None = None,
    service: str | None = None,
    scopes: list[str] | None = None,
    note: str = "",
    expires_in: float | None = None,
) -> tuple[str, ApiToken]:
    """Store a new token (caller commits) and return ``(clear token, row)``; show it once."""
    scopes = check_scopes(scopes if scopes is not None else ["self"] if user else ["admin"])
    token = new_token()
    row = ApiToken(
        hashed=hash_token(token),
        prefix=token[:PREFIX_LENGTH],
        user=user,
        service=None if user else (service or "service"),
        scopes=scopes,
        note=note,
        created=utcnow(),
        expires_at=utcnow() + dt.timedelta(seconds=expires_in) if expires_in else None,
    )
    session.add(row)
    return token, row


def find_token(session: Session, token: str) -> ApiToken | None:
    """The live (not expired) token row for ``token``, else ``None``."""
    if not token or len(token) > 256:
        return None
    hashed = hash_token(token)
    row = session.scalars(select(ApiToken).where(ApiToken.hashed == hashed)).first()
    # The index lookup already matched; compare again in constant time so no code path
    # ever compares secrets byte by byte.
    if row is None or not hmac.compare_digest(row.hashed, hashed):
        return None
    return _live(row)


def token_fingerprint(row: ApiToken) -> str:
    """A short, non-secret mark of one token (the start of its SHA-256), for server passes."""
    return row.hashed[:FINGERPRINT_LENGTH]


def find_token_by_id(session: Session, token_id: int, fingerprint: str) -> ApiToken | None:
    """The live token row ``token_id`` if it is still the token ``fingerprint`` was taken from.

    A server pass (the ``bindery-server`` cookie) names its token this way; a revoked
    token is gone, and a later token that happens to get the same row id has another
    fingerprint, so the pass dies with its token.
    """
    row = session.get(ApiToken, token_id)
    if row is None or not hmac.compare_digest(token_fingerprint(row), fingerprint):
        return None
    return _live(row)


def _live(row: ApiToken) -> ApiToken | None:
    """``row`` unless it has expired; notes its use (at most every ``ACTIVITY_RESOLUTION``)."""
    now = utcnow()
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_activity is None or now - row.last_activity > ACTIVITY_RESOLUTION:
        row.last_activity = now
    return row


def principal_for_token(row: ApiToken) -> Principal:
    if row.user is not None:
        scopes = frozenset(row.scopes)
        if row.user.kind == "temporary" and "self" in scopes:
            # A temporary user's "self" is only what a Binder visitor may do.
            scopes = (scopes - {"self"}) | visitor_scopes(row.user.name)
        return Principal(name=row.user.name, scopes=scopes, user_name=row.user.name,
                         owner_admin=row.user.admin, token_id=row.id, via="token")
    return Principal(name=row.service or "service", scopes=frozenset(row.scopes), token_id=row.id)


def ensure_service_token(session: Session, token: str, service: str, scopes: list[str]) -> ApiToken:
    """Register a token the deployment gives (e.g. ``$BINDERY_HUB_ADMIN_TOKEN``), stored hashed."""
    hashed = hash_token(token)
    row = session.scalars(select(ApiToken).where(ApiToken.hashed == hashed)).first()
    if row is None:
        row = ApiToken(
            hashed=hashed,
            prefix=token[:PREFIX_LENGTH],
            service=service,
            scopes=check_scopes(scopes),
            note=f"from ${service}",
            created=utcnow(),
        )
        session.add(row)
    else:
        row.scopes = check_scopes(scopes)
        row.expires_at = None
    return row


__all__ = [
    "Principal",
    "create_token",
    "ensure_service_token",
    "find_token",
    "find_token_by_id",
    "hash_token",
    "new_token",
    "token_fingerprint",
]
