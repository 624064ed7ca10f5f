"""Local users with their own passwords (the ``password`` authenticator).

The hashes live in the plugin's own table (``password_store``), imported only when
an authenticator is made: reading settings loads this module to check its options,
and should not load the database library or hash anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import anyio
import anyio.to_thread
from pydantic import Field

from bindery.hub.auth.base import AuthContext, Authenticator, AuthResult, SessionFactory
from bindery.hub.auth.errors import AuthConfigError
from bindery.hub.auth.names import is_valid_username, normalize_username
from bindery.plugins import PluginOptions

if TYPE_CHECKING:
    from starlette.requests import Request

DEFAULT_MIN_PASSWORD_LENGTH = 8


class PasswordOptions(PluginOptions):
    """The ``password`` authenticator's keys in ``[hub.auth]``."""

    #: Shortest password ``bindery hub passwd`` accepts.
    min_password_length: int = Field(default=DEFAULT_MIN_PASSWORD_LENGTH, ge=1)
    #: Argon2 checks running at once (each takes ~64 MiB and a core); 0 = one per core.
    max_concurrent_hashes: int = Field(default=0, ge=0)


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
        from bindery.hub.auth.password_store import ensure_password_table

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
        from bindery.hub.auth.password_store import verify_password

        with self.session_factory() as session:
            ok = verify_password(session, name, password)
            session.commit()  # keeps a rehash, if one happened
            return ok
