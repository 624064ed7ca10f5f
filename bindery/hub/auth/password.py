"""Local users with their own passwords, hashed with Argon2 in the hub database.

Why Argon2 (argon2-cffi): memory-hard, the OWASP default; the hasher also tells
us when stored hashes use outdated parameters so they are upgraded on the next
successful login.

The table ``password_credentials`` belongs to this plugin, not to the hub's schema:
it lives on its own ``MetaData`` and the authenticator creates it when it starts
(and ``bindery hub passwd`` when it runs first), leaving an existing one as it is.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import ClassVar

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import Field
from sqlalchemy import DateTime, String, create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from starlette.requests import Request

from bindery.hub.auth.base import AuthContext, Authenticator, AuthResult, SessionFactory
from bindery.hub.auth.errors import AuthConfigError, PasswordPolicyError
from bindery.hub.auth.names import is_valid_username, normalize_username
from bindery.plugins import PluginOptions

DEFAULT_MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
#: Verified against when the user does not exist, so an unknown name costs as
#: much time as a wrong password and timing does not reveal who has an account.
_DUMMY_HASH = _hasher.hash("bindery-dummy-password-for-unknown-users")


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


class PasswordOptions(PluginOptions):
    """The ``password`` authenticator's keys in ``[hub.auth]``."""

    #: Shortest password ``bindery hub passwd`` accepts.
    min_password_length: int = Field(default=DEFAULT_MIN_PASSWORD_LENGTH, ge=1)
    #: Argon2 checks running at once (each takes ~64 MiB and a core); 0 = one per core.
    max_concurrent_hashes: int = Field(default=0, ge=0)


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
    stored = credential.hash if credential is not None else _DUMMY_HASH
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


class PasswordAuthenticator(Authenticator):
    """Username + personal password, checked against ``password_credentials`` in the hub database."""

    name: ClassVar[str] = "password"
    options_model: ClassVar[type[PluginOptions]] = PasswordOptions
    uses_login_form: ClassVar[bool] = True

    def __init__(self, options: PasswordOptions, context: AuthContext) -> None:
        super().__init__(options, context)
        if context.session_factory is None:
            raise AuthConfigError(
                "The password authenticator needs the hub database to keep its passwords in."
            )
        self.session_factory: SessionFactory = context.session_factory
        self.min_password_length = options.min_password_length
        # Each Argon2 check takes 64 MiB and a core for ~0.1 s: a burst of logins must
        # queue rather than exhaust the hub's memory (one slot per core by default).
        self.max_concurrent_hashes = options.max_concurrent_hashes or os.cpu_count() or 2
        self._hash_slots: anyio.CapacityLimiter | None = None
        with self.session_factory() as session:
            ensure_password_table(session.connection())
            session.commit()

    async def authenticate(self, request: Request, data: Mapping[str, str]) -> AuthResult | None:
        name = normalize_username(data.get("username", ""))
        password = data.get("password", "")
        if not password or not is_valid_username(name):
            return None
        # Argon2 is deliberately slow (tens of ms): keep it off the event loop.
        ok = await anyio.to_thread.run_sync(self._check, name, password, limiter=self._slots())
        return AuthResult(name=name) if ok else None

    def _slots(self) -> anyio.CapacityLimiter:
        if self._hash_slots is None:
            self._hash_slots = anyio.CapacityLimiter(self.max_concurrent_hashes)
        return self._hash_slots

    def _check(self, name: str, password: str) -> bool:
        with self.session_factory() as session:
            ok = verify_password(session, name, password)
            session.commit()  # keeps a rehash, if one happened
            return ok
