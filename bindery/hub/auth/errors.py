"""Errors of the authenticators, written for the person who must fix them."""

from __future__ import annotations

from bindery.errors import BinderyError


class AuthConfigError(BinderyError):
    """The authenticator's settings are unusable; the hub refuses to start rather than run insecurely."""


class PasswordPolicyError(BinderyError):
    """A new password breaks the configured policy (e.g. too short)."""
