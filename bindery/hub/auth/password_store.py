"""Where the password authenticator keeps its hashes: Argon2 in the hub database.

Why Argon2 (argon2-cffi): memory-hard, the OWASP default; the hasher also tells
us when stored hashes use outdated parameters so they are upgraded on the next
successful login.

The table ``password_credentials`` belongs to this plugin, not to the hub's schema:
it lives on its own ``MetaData`` and the authenticator creates it when it starts
(and ``bindery hub passwd`` when it runs first), leaving an existing one as it is.
"""

from __future__ import annotations

import datetime as dt
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import DateTime, String, create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from bindery.hub.auth.errors import PasswordPolicyError
from bindery.hub.auth.names import is_valid_username, normalize_username
from bindery.hub.auth.password import DEFAULT_MIN_PASSWORD_LENGTH

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so an unknown name costs as much
    time as a wrong password and timing does not reveal who has an account (made on
    first use: hashing is deliberately slow)."""
    return _hasher.hash("bindery-dummy-password-for-unknown-users")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PasswordTables(DeclarativeBase):
    """This plugin's own tables, apart from the hub's ``Base`` (the hub's migrations never see them)."""


class PasswordCredential(PasswordTables):
    """One user's password hash (the user row itself belongs to the hub)."""

    __tablename__ = "password_credentials"

    user_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    hash: Mapped[str] = mapped_column(String(255))
    updated: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)


def ensure_password_table(bind: Engine | Connection) -> None:
    """Create ``password_credentials`` when missing; an existing table and its rows stay as they are."""
    PasswordTables.metadata.create_all(bind, checkfirst=True)


def set_password(
    session: Session,
    name: str,
    password: str,
    *,
    min_length: int = DEFAULT_MIN_PASSWORD_LENGTH,
) -> None:
    """Store (or replace) ``name``'s password; the caller commits the session."""
    name = normalize_username(name)
    if not is_valid_username(name):
        raise PasswordPolicyError(
            f"{name!r} is not a valid user name: use lowercase letters, digits, '-', '_' and '.'."
        )
    if len(password) < min_length:
        raise PasswordPolicyError(
            f"The password is too short: use at least {min_length} characters."
        )
    credential = session.get(PasswordCredential, name)
    if credential is None:
        session.add(PasswordCredential(user_name=name, hash=_hasher.hash(password), updated=_utcnow()))
    else:
        credential.hash = _hasher.hash(password)
        credential.updated = _utcnow()


def verify_password(session: Session, name: str, password: str) -> bool:
    """True when ``password`` is ``name``'s; upgrades an outdated hash in place.

    Unknown users are checked against a dummy hash so both paths take the same time.
    """
    credential = session.get(PasswordCredential, normalize_username(name))
    stored = credential.hash if credential is not None else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if credential is None:
        return False
    if _hasher.check_needs_rehash(stored):
        credential.hash = _hasher.hash(password)
        credential.updated = _utcnow()
    return True


def set_password_cli(db_url: str, name: str, password: str, *, min_length: int = DEFAULT_MIN_PASSWORD_LENGTH) -> None:
    """What ``bindery hub passwd NAME`` runs: set a password straight in the hub database."""
    engine = create_engine(db_url)
    try:
        ensure_password_table(engine)
        with Session(engine) as session, session.begin():
            set_password(session, name, password, min_length=min_length)
    finally:
        engine.dispose()
