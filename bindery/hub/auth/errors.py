"""Errors of the authenticators, written for the person who must fix them."""

from __future__ import annotations

from bindery.errors import BinderyError


class AuthConfigError(BinderyError):
    """The authenticator's settings are unusable; the hub refuses to start rather than run insecurely."""


class PasswordPolicyError(BinderyError):
    """A new password breaks the configured policy (e.g. too short)."""


class LoginError(BinderyError):
    """A login that cannot complete; the hub shows ``title`` and ``message`` with ``status``.

    Raised by an authenticator's login routes (an external provider said no, the
    login state is forged or expired, the provider cannot be reached ...). The text
    says what happened and how to start again; it never carries a traceback.
    """

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
