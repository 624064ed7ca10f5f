"""Server-side login sessions: the ``bindery-session`` cookie names a row, so a login can end.

A signed cookie alone stays valid until it expires (14 days by default) whatever
happens: the review found an old cookie still working after logout and after a
password reset (issue 8, finding 10). As in JupyterHub, the cookie now carries a
random session key whose SHA-256 is stored with the user; the hub honours the cookie
only while that row exists and has not expired. Logout deletes the row, a password
change deletes all of the user's rows, and deleting the user deletes them too (the
foreign key cascades). The signature still protects the cookie's contents; the row
is what makes it revocable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bindery.hub.db.engine import open_database
from bindery.hub.db.models import LoginSession, User, utcnow


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def start_session(session: Session, user: User, max_age: int) -> str:
    """A new login of ``user`` for ``max_age`` seconds; returns the key the cookie carries.

    Expired rows of anyone are dropped on the way, so the table stays small without a
    background job. The caller commits.
    """
    now = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    key = secrets.token_urlsafe(32)
    session.add(LoginSession(hashed=_hash(key), user_id=user.id, created=now,
                             expires_at=now + dt.timedelta(seconds=max_age)))
    return key


def session_user(session: Session, name: str, key: str) -> User | None:
    """The user a cookie (``name``, ``key``) logs in, or ``None`` once that login ended."""
    row = session.scalars(select(LoginSession).where(LoginSession.hashed == _hash(key))).first()
    if row is None or row.expires_at <= utcnow() or row.user.name != name:
        return None
    return row.user


def session_hash(key: str) -> str:
    """What the database stores of login ``key`` (passes and hand-off codes name it so)."""
    return _hash(key)


def session_user_by_hash(session: Session, hashed: str) -> User | None:
    """The user of the still-valid login stored as ``hashed``, else ``None``."""
    row = session.scalars(select(LoginSession).where(LoginSession.hashed == hashed)).first()
    if row is None or row.expires_at <= utcnow():
        return None
    return row.user


def end_session(session: Session, key: str) -> None:
    """End one login (logout). The caller commits."""
    session.execute(delete(LoginSession).where(LoginSession.hashed == _hash(key)))


def end_sessions_of(session: Session, name: str) -> int:
    """End every login of ``name`` (password changed); returns how many. The caller commits."""
    user_id = session.scalars(select(User.id).where(User.name == name)).first()
    if user_id is None:
        return 0
    ended = session.scalars(select(LoginSession.id).where(LoginSession.user_id == user_id)).all()
    session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    return len(ended)


def end_sessions_in_database(db_url: str, name: str) -> int:
    """What ``bindery hub passwd`` runs after setting a password: log ``name`` out everywhere."""
    engine, db = open_database(db_url)
    try:
        with db() as s, s.begin():
            return end_sessions_of(s, name)
    finally:
        engine.dispose()
