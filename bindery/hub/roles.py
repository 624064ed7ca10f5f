"""Roles from the configuration: named sets of scopes given to users, groups and services.

JupyterHub's ``load_roles`` as ``[[hub.roles]]``::

    [[hub.roles]]
    name = "teaching-assistants"
    scopes = ["read:users!group=students", "access:servers!group=students"]
    groups = ["tas"]

A scope may end in a bare ``!user`` (or ``!server``, ``!service``): it is narrowed to
whoever holds the role (``shares!user`` gives each member ``shares!user=<their name>``),
as in JupyterHub. The names ``user`` and ``admin`` are JupyterHub's built-in roles and
cannot be redefined here (use ``admin_users`` for admins).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import Field, field_validator

from bindery.config import Section
from bindery.hub.names import InvalidName, check_name
from bindery.hub.scopes import ScopeError, check_scopes

BUILT_IN = frozenset({"user", "admin", "server", "token"})
SELF_FILTERS = ("!user", "!server", "!service")


class RoleSettings(Section):
    """One ``[[hub.roles]]`` entry."""

    name: str
    description: str = ""
    #: JupyterHub scopes; a bare ``!user`` filter means "the holder's own".
    scopes: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value in BUILT_IN:
            raise ValueError(f"the role name {value!r} is JupyterHub's built-in role; choose "
                             "another name")
        try:
            return check_name(value, "role name")
        except InvalidName as err:
            raise ValueError(str(err)) from err

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        try:
            check_scopes([_for_holder(s, "holder", "holder/") for s in value])
        except ScopeError as err:
            raise ValueError(str(err)) from err
        return value

    @field_validator("users")
    @classmethod
    def _users(cls, value: list[str]) -> list[str]:
        try:
            return [check_name(v) for v in value]
        except InvalidName as err:
            raise ValueError(str(err)) from err


def _for_holder(scope: str, name: str, server: str) -> str:
    """``x!user`` → ``x!user=<name>`` (and ``!server``, ``!service`` alike)."""
    for bare in SELF_FILTERS:
        if scope.endswith(bare):
            value = server if bare == "!server" else name
            return f"{scope}={value}"
    return scope


def roles_of(roles: Sequence[RoleSettings], *, user: str | None = None,
             groups: Iterable[str] = (), service: str | None = None) -> list[RoleSettings]:
    group_set = set(groups)
    return [r for r in roles
            if (user is not None and user in r.users)
            or (group_set & set(r.groups))
            or (service is not None and service in r.services)]


def role_scopes(roles: Sequence[RoleSettings], *, user: str | None = None,
                groups: Iterable[str] = (), service: str | None = None) -> frozenset[str]:
    """The scopes the configured roles give this user (directly or by group) or service."""
    holder = user if user is not None else (service or "")
    server = f"{user}/" if user is not None else ""
    return frozenset(
        _for_holder(scope, holder, server)
        for role in roles_of(roles, user=user, groups=groups, service=service)
        for scope in role.scopes
    )
