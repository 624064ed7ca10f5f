"""One shared password for a workshop: any allowed user name, one password for all."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import ClassVar

from pydantic import SecretStr
from starlette.requests import Request

from bindery.hub.auth.base import AuthContext, Authenticator, AuthResult
from bindery.hub.auth.errors import AuthConfigError
from bindery.hub.auth.names import is_valid_username, normalize_username
from bindery.plugins import PluginOptions

MIN_SHARED_PASSWORD_LENGTH = 8


class SharedPasswordOptions(PluginOptions):
    """The ``shared-password`` authenticator's keys in ``[hub.auth]``.

    Put both in environment variables (``BINDERY_HUB__AUTH__SHARED_PASSWORD``), not
    in the file; they never print.
    """

    shared_password: SecretStr | None = None
    #: Optional, different from the shared one; only for names in ``admin_users``.
    admin_password: SecretStr | None = None


def _text(secret: SecretStr | None) -> str:
    return secret.get_secret_value() if secret is not None else ""


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison, so response time does not leak how much of a guess was right."""
    return hmac.compare_digest(given.encode(), expected.encode())


class SharedPasswordAuthenticator(Authenticator):
    """Everybody types any name (from the allow list if one is set) and the shared password.

    ``admin_password`` (optional, different from the shared one) makes the user an
    admin, but only for names in ``admin_users``; with the shared password nobody is admin.
    """

    name: ClassVar[str] = "shared-password"
    options_model: ClassVar[type[PluginOptions]] = SharedPasswordOptions
    uses_login_form: ClassVar[bool] = True

    def __init__(self, options: SharedPasswordOptions, context: AuthContext) -> None:
        super().__init__(options, context)
        self.shared_password = _text(options.shared_password)
        self.admin_password = _text(options.admin_password)
        if len(self.shared_password) < MIN_SHARED_PASSWORD_LENGTH:
            raise AuthConfigError(
                "The shared password is missing or shorter than "
                f"{MIN_SHARED_PASSWORD_LENGTH} characters; set [hub.auth] shared_password "
                "(or BINDERY_HUB__AUTH__SHARED_PASSWORD) to a longer one."
            )
        if self.admin_password:
            if len(self.admin_password) < MIN_SHARED_PASSWORD_LENGTH:
                raise AuthConfigError(
                    f"The admin password is shorter than {MIN_SHARED_PASSWORD_LENGTH} characters."
                )
            if _same(self.admin_password, self.shared_password):
                raise AuthConfigError(
                    "The admin password must differ from the shared password, "
                    "or every participant would be an admin."
                )
            if not self.admin_users:
                raise AuthConfigError(
                    "An admin password is set but admin_users is empty: list who may use it."
                )

    async def authenticate(self, request: Request, data: Mapping[str, str]) -> AuthResult | None:
        name = normalize_username(data.get("username", ""))
        password = data.get("password", "")
        if not is_valid_username(name):
            return None
        # Both comparisons always run so timing does not tell which password was tried.
        is_shared = _same(password, self.shared_password)
        is_admin_pw = bool(self.admin_password) and _same(password, self.admin_password)
        if is_admin_pw and name in self.admin_users:
            return AuthResult(name=name, admin=True)
        if is_shared:
            return AuthResult(name=name, admin=False)
        return None

    def is_admin(self, result: AuthResult) -> bool:
        """Admin only through the admin password, never by name alone (everyone knows the shared one)."""
        return bool(result.admin)
