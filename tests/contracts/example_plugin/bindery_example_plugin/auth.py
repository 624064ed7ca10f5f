"""``example-table``: an Authenticator checking names and passwords against a fixed table.

It shows a *form* authenticator with its own options: the table sits in
``[hub.auth]`` beside ``kind`` (``users = { ada = "..." }``), is validated when the
configuration is read (an unknown key is an error naming it), and reaches the
authenticator typed, its passwords wrapped so they never print.

The hub does the rest: the login form, rate limiting, the allow/block/admin lists
(:class:`~bindery.hub.auth.base.AuthContext`) and turning the result into a session.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import ClassVar

from pydantic import SecretStr
from starlette.requests import Request

from bindery.hub.auth.base import AuthContext, Authenticator, AuthResult
from bindery.hub.auth.names import normalize_username
from bindery.plugins import PluginOptions


class TableOptions(PluginOptions):
    """``[hub.auth]`` keys of the table authenticator."""

    #: Who may log in, and with which password (empty: nobody).
    users: dict[str, SecretStr] = {}


class TableAuthenticator(Authenticator):
    """Name and password from the hub's login form, checked against ``users``."""

    name: ClassVar[str] = "example-table"
    options_model: ClassVar[type[PluginOptions]] = TableOptions
    uses_login_form: ClassVar[bool] = True

    def __init__(self, options: PluginOptions, context: AuthContext) -> None:
        super().__init__(options, context)
        table = options if isinstance(options, TableOptions) else TableOptions()
        # Names are compared in the form the hub stores them (trimmed, lowercase).
        self.passwords = {normalize_username(name): secret.get_secret_value()
                          for name, secret in table.users.items()}

    async def authenticate(self, request: Request, data: Mapping[str, str]) -> AuthResult | None:
        name = normalize_username(data.get("username", ""))
        given = data.get("password", "").encode()
        expected = self.passwords.get(name)
        # Compare even for unknown names, so timing does not tell which names exist.
        same = hmac.compare_digest(given, (expected or "\0 no such user").encode())
        return AuthResult(name=name) if expected is not None and same else None
