"""Local users with their own passwords, hashed with Argon2 in the hub database.

Why Argon2 (argon2-cffi): memory-hard, the OWASP default; the hasher also tells
us when stored hashes use outdated parameters so they are upgraded on the next
successful login.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import anyio
import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import DateTime, String, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from starlette.requests import Request

from bindery.hub.auth.base import Authenticator, AuthResult
from bindery.hub.auth.errors import AuthConfigError, PasswordPolicyError
from bindery.hub.auth.names import is_valid_username, normalize_username
from bindery.hub.db.base import Base

DEFAULT_MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
#: Verified against when the user does not exist, so an unknown name costs as
#: much time as a wrong password and timing does not reveal who has an account.
_DUMMY_HASH = _hasher.hash("bindery-dummy-password-for-unknown-users")

SessionFactory = Callable[[], AbstractContextManager[Session]]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class PasswordCredential(Base):
    """One user's password hash (the user row itself belongs to the hub)."""

    __tablename__ = "password_credentials"

    user_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    hash: Mapped[str] = mapped_column(String(255))
    updated: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_utcnow)


def ensure_password_table(engine: Engine) -> None:
    """Create ``password_credentials`` when missing (for tools run before the hub's migrations)."""
    Base.metadata.create_all(engine, tables=[PasswordCredential.__table__])


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


def delete_password(session: Session, name: str) -> bool:
    """Remove ``name``'s password (the user can no longer log in); True if there was one."""
    credential = session.get(PasswordCredential, normalize_username(name))
    if credential is None:
        return False
    session.delete(credential)
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
    """Username + personal password, checked against ``password_credentials``.

    Options: ``session_factory`` (a SQLAlchemy ``sessionmaker`` the hub shares)
    or ``db_url``; ``min_password_length``.
    """

    name: ClassVar[str] = "password"
    uses_login_form: ClassVar[bool] = True

    def __init__(
        self,
        *,
        session_factory: SessionFactory | None = None,
        db_url: str | None = None,
        min_password_length: int = DEFAULT_MIN_PASSWORD_LENGTH,
        max_concurrent_hashes: int | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        # Each Argon2 check takes 64 MiB and a core for ~0.1 s: a burst of logins must
        # queue rather than exhaust the hub's memory (one slot per core by default).
        self.max_concurrent_hashes = max_concurrent_hashes or os.cpu_count() or 2
        self._hash_slots: anyio.CapacityLimiter | None = None
        if session_factory is None:
            if not db_url:
                raise AuthConfigError(
                    "The password authenticator needs the hub database "
                    "(pass session_factory or db_url)."
                )
            engine = create_engine(db_url)
            ensure_password_table(engine)
            session_factory = sessionmaker(engine)
        self.session_factory = session_factory
        self.min_password_length = min_password_length

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

    async def set_password(self, name: str, password: str) -> None:
        """Set a password through the hub's own DB (used by an admin page or the API)."""

        def _set() -> None:
            with self.session_factory() as session:
                set_password(session, name, password, min_length=self.min_password_length)
                session.commit()

        await anyio.to_thread.run_sync(_set, limiter=self._slots())
