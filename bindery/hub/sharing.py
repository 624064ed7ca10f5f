"""Sharing a server (JupyterHub 5): grants to users or groups, and invitation codes.

A share gives one user, or every member of one group, ``access:servers!server=<owner>/<name>``
on one server; nothing else (no start, stop or tokens). A share code is an invitation:
whoever is logged in and accepts it gets such a share. Codes are stored hashed like
tokens, expire (one day by default) and can be revoked; accepting never widens the
scopes the code carries.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bindery.errors import BinderyError
from bindery.hub.db.models import Group, Server, Share, ShareCode, User, utcnow
from bindery.hub.server_state import server_base_url
from bindery.hub.tokens import hash_token

#: How long a share code lasts unless its creator says otherwise (JupyterHub's default).
DEFAULT_CODE_LIFETIME = dt.timedelta(days=1)
MAX_CODE_LIFETIME = dt.timedelta(days=365)
ACCEPT_PATH = "/hub/accept-share"


class SharingError(BinderyError):
    """A share request that cannot be done; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def server_scope(owner: str, server_name: str) -> str:
    return f"access:servers!server={owner}/{server_name}"


def check_share_scopes(requested: object, owner: str, server_name: str) -> list[str]:
    """The scopes of a new share: only access to that one server can be shared."""
    allowed = server_scope(owner, server_name)
    if requested is None:
        return [allowed]
    if not isinstance(requested, list) or not all(isinstance(s, str) for s in requested):
        raise SharingError("'scopes' must be a list of strings.")
    wrong = [s for s in requested if s != allowed]
    if wrong:
        raise SharingError(
            f"Only {allowed!r} can be shared on this server, not {', '.join(wrong)}."
        )
    return [allowed] if requested else []


def ensure_server(s: Session, owner: User, server_name: str) -> None:
    """404 unless the server exists (a user's default server always does)."""
    if server_name == "":
        return
    row = s.scalars(
        select(Server).where(Server.user_id == owner.id, Server.name == server_name)
    ).first()
    if row is None:
        raise SharingError(f"No such server: {owner.name}/{server_name}", 404)


def share_scopes(s: Session, user: User) -> frozenset[str]:
    """What the shares made to ``user`` (directly or through their groups) grant them."""
    group_ids = [g.id for g in user.groups]
    condition = Share.user_id == user.id
    if group_ids:
        condition = or_(condition, Share.group_id.in_(group_ids))
    out: set[str] = set()
    for share in s.scalars(select(Share).where(condition)):
        out.update(share.scopes)
    return frozenset(out)


def find_share(s: Session, owner: User, server_name: str, *, user: User | None = None,
               group: Group | None = None) -> Share | None:
    query = select(Share).where(Share.owner_id == owner.id, Share.server_name == server_name)
    if user is not None:
        query = query.where(Share.user_id == user.id)
    if group is not None:
        query = query.where(Share.group_id == group.id)
    return s.scalars(query).first()


def grant(s: Session, owner: User, server_name: str, scopes: list[str], *,
          user: User | None = None, group: Group | None = None) -> Share:
    """Share the server with ``user`` or ``group`` (adding to an existing share)."""
    if (user is None) == (group is None):
        raise SharingError("Share with exactly one of 'user' or 'group'.")
    if user is not None and user.id == owner.id:
        raise SharingError(f"{owner.name!r} owns this server already; there is nothing to share.")
    ensure_server(s, owner, server_name)
    share = find_share(s, owner, server_name, user=user, group=group)
    if share is None:
        share = Share(owner=owner, server_name=server_name, user=user, group=group,
                      scopes=list(scopes), created_at=utcnow())
        s.add(share)
    else:
        share.scopes = sorted(set(share.scopes) | set(scopes))
    return share


def revoke(s: Session, owner: User, server_name: str, scopes: list[str] | None, *,
           user: User | None = None, group: Group | None = None) -> Share | None:
    """Take ``scopes`` (``None`` or empty: all) back; the share remains only if some are left."""
    share = find_share(s, owner, server_name, user=user, group=group)
    if share is None:
        return None
    left = [sc for sc in share.scopes if scopes and sc not in scopes]
    if not left:
        s.delete(share)
        return None
    share.scopes = left
    return share


def new_code(s: Session, owner: User, server_name: str, scopes: list[str],
             expires_in: float | None) -> tuple[str, ShareCode]:
    """A new invitation code (shown once) for the server."""
    ensure_server(s, owner, server_name)
    lifetime = DEFAULT_CODE_LIFETIME if expires_in is None else dt.timedelta(seconds=expires_in)
    if not dt.timedelta(0) < lifetime <= MAX_CODE_LIFETIME:
        raise SharingError("'expires_in' must be a number of seconds, more than 0 and at most "
                           "one year.")
    code = secrets.token_urlsafe(32)
    row = ShareCode(hashed=hash_token(code), owner=owner, server_name=server_name,
                    scopes=list(scopes), created_at=utcnow(), expires_at=utcnow() + lifetime)
    s.add(row)
    return code, row


def accept_code(s: Session, code: str, user: User) -> Share:
    """``user`` accepts the invitation ``code``: they get its share (404 if it is no more)."""
    row = s.scalars(select(ShareCode).where(ShareCode.hashed == hash_token(code))).first()
    if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
        raise SharingError("This share code is unknown, expired or revoked.", 404)
    row.exchange_count += 1
    row.last_exchanged_at = utcnow()
    if row.owner_id == user.id:
        raise SharingError("This is an invitation to your own server.")
    return grant(s, row.owner, row.server_name, list(row.scopes), user=user)


def sharing_context(s: Session, user: User,
                    url_of: Callable[[str, str], str] = server_base_url) -> dict[str, Any]:
    """What the home page's sharing section shows: my shares, and what is shared with me."""
    mine = s.scalars(select(Share).where(Share.owner_id == user.id).order_by(Share.id)).all()
    group_ids = [g.id for g in user.groups]
    condition = Share.user_id == user.id
    if group_ids:
        condition = or_(condition, Share.group_id.in_(group_ids))
    with_me = s.scalars(select(Share).where(condition).order_by(Share.id)).all()
    return {
        "my_shares": [{"id": sh.id, "server": sh.server_name,
                       "with": f"user {sh.user.name}" if sh.user else f"group {sh.group.name}"
                       if sh.group else "?"} for sh in mine],
        "shared_with_me": [{"owner": sh.owner.name, "server": sh.server_name,
                            "url": url_of(sh.owner.name, sh.server_name)}
                           for sh in with_me],
        "shareable": [""] + sorted(srv.name for srv in user.servers if srv.name),
    }
