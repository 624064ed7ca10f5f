"""Scopes: what a token (or a logged-in user) may do, with JupyterHub's names and meanings.

The vocabulary and the "holding X grants Y" hierarchy are JupyterHub's (5.x/6.x), so
a service that checks ``scopes`` from ``/hub/api/user`` sees what it would see on
JupyterHub. Metascopes: ``self`` is everything a user may do to their own things
(each scope filtered ``!user=<owner>``), ``inherit`` is everything the token's owner
may do; Bindery's ``admin`` is the admin role's scopes as one name (JupyterHub grants
them through the ``admin`` role; the hub's own service tokens use it).

A scope may be narrowed with a filter: ``!user=<name>``, ``!server=<user>/<server>``,
``!group=<name>`` (the group's members and the group itself), ``!service=<name>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

#: Each scope and the scopes holding it grants too (JupyterHub's hierarchy).
SUBSCOPES: dict[str, tuple[str, ...]] = {
    "admin:users": ("admin:auth_state", "users", "read:roles:users", "delete:users"),
    "admin:auth_state": (),
    "users": ("read:users", "list:users", "users:activity"),
    "delete:users": (),
    "list:users": ("read:users:name",),
    "read:users": ("read:users:name", "read:users:groups", "read:users:activity"),
    "read:users:name": (),
    "read:users:groups": (),
    "read:users:activity": (),
    "read:roles": ("read:roles:users", "read:roles:services", "read:roles:groups"),
    "read:roles:users": (),
    "read:roles:services": (),
    "read:roles:groups": (),
    "users:activity": ("read:users:activity",),
    "admin:servers": ("admin:server_state", "servers"),
    "admin:server_state": (),
    "servers": ("read:servers", "start:servers", "delete:servers"),
    "read:servers": ("read:users:name",),
    "start:servers": (),
    "delete:servers": (),
    "tokens": ("read:tokens",),
    "read:tokens": (),
    "admin:groups": ("groups", "read:roles:groups", "delete:groups"),
    "groups": ("read:groups", "list:groups"),
    "list:groups": ("read:groups:name",),
    "read:groups": ("read:groups:name",),
    "read:groups:name": (),
    "delete:groups": (),
    "admin:services": ("list:services", "read:services", "read:roles:services"),
    "list:services": ("read:services:name",),
    "read:services": ("read:services:name",),
    "read:services:name": (),
    "read:hub": (),
    "access:servers": (),
    "access:services": (),
    "users:shares": ("read:users:shares",),
    "read:users:shares": (),
    "groups:shares": ("read:groups:shares",),
    "read:groups:shares": (),
    "read:shares": (),
    "shares": ("access:servers", "read:shares", "users:shares", "groups:shares"),
    "proxy": (),
    "shutdown": (),
    "read:metrics": (),
    "admin-ui": (),
}

#: The scopes of JupyterHub's ``admin`` role (Bindery's ``admin`` scope means these).
ADMIN_ROLE_SCOPES = (
    "admin-ui", "admin:users", "admin:servers", "admin:services", "tokens", "admin:groups",
    "list:services", "read:services", "read:hub", "proxy", "shutdown", "access:services",
    "access:servers", "read:roles", "read:metrics", "shares",
)
#: What ``self`` grants, each narrowed to the owner (JupyterHub's ``self`` expansion).
SELF_BASE_SCOPES = (
    "read:users", "users:shares", "read:shares", "users:activity", "servers", "tokens",
    "access:servers",
)
#: Added to ``self`` so people can share their servers out of the box: JupyterHub's own
#: recipe for turning sharing on (its default user role leaves it off). ``shares`` is
#: narrowed to the owner; the names are what sharing "with alice" or "with staff" needs.
SELF_SHARING_SCOPES = ("shares!user={owner}", "read:users:name", "read:groups:name")
METASCOPES = frozenset({"self", "inherit", "admin"})
KNOWN_SCOPES = frozenset(SUBSCOPES) | METASCOPES
FILTER_KINDS = ("user", "server", "group", "service")


class ScopeError(ValueError):
    """A requested scope does not exist (the message lists the known ones)."""


def check_scopes(scopes: object) -> list[str]:
    """Validate a list of scope strings (``name`` or ``name!<kind>=<value>``)."""
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ScopeError("'scopes' must be a list of strings, e.g. [\"read:users\"].")
    for scope in scopes:
        base, sep, filt = scope.partition("!")
        kind, eq, value = filt.partition("=")
        if base not in KNOWN_SCOPES or (sep and (kind not in FILTER_KINDS or not eq or not value)):
            raise ScopeError(
                f"Scope {scope!r} does not exist. Known scopes: {', '.join(sorted(KNOWN_SCOPES))}; "
                "narrow one with '!user=<name>', '!server=<user>/<server>', '!group=<name>' "
                "or '!service=<name>'."
            )
        if base in METASCOPES and sep:
            raise ScopeError(f"The metascope {base!r} cannot be narrowed with a filter ({scope!r}).")
    return list(dict.fromkeys(scopes))


@lru_cache(maxsize=4096)
def _expand_one(base: str) -> frozenset[str]:
    out: set[str] = set()
    todo = [base]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo.extend(SUBSCOPES.get(name, ()))
    return frozenset(out)


def expand(scope: str) -> set[str]:
    """A scope and every scope it grants, each keeping the scope's filter."""
    base, sep, filt = scope.partition("!")
    if base == "admin":
        names: set[str] = set()
        for role_scope in ADMIN_ROLE_SCOPES:
            names |= _expand_one(role_scope)
        return names
    return {f"{name}{sep}{filt}" for name in _expand_one(base)}


def self_scopes(owner: str) -> frozenset[str]:
    """``self`` of the user ``owner``: their own users/servers/tokens/shares scopes."""
    out: set[str] = set()
    for scope in SELF_BASE_SCOPES:
        out |= _expand_one(scope)
    narrowed = {f"{name}!user={owner}" for name in out}
    for scope in SELF_SHARING_SCOPES:
        narrowed |= expand(scope.format(owner=owner))
    return frozenset(narrowed)


@lru_cache(maxsize=4096)
def expand_scopes(
    scopes: frozenset[str], owner: str | None = None, owner_admin: bool = False
) -> frozenset[str]:
    """Every scope ``scopes`` really grants to a principal owned by ``owner``.

    This is the list ``/hub/api/user`` shows (as JupyterHub does), so a service's
    ``check_scopes`` finds ``read:users:name!user=alice`` in a token that holds ``self``.
    """
    out: set[str] = set()
    for scope in scopes:
        if scope in ("self", "inherit"):
            if owner_admin or (owner is None and scope == "inherit"):
                out |= expand("admin")
            if owner is not None:
                out |= self_scopes(owner)
            continue
        out |= expand(scope)
    return frozenset(out)


@dataclass(frozen=True)
class Target:
    """The thing an action is about, so that filters can be matched against it."""

    user: str | None = None
    #: ``<user>/<server name>`` (``alice/`` is alice's default server).
    server: str | None = None
    #: The groups of ``user`` (for ``!group=`` filters on user resources).
    groups: frozenset[str] = field(default_factory=frozenset)
    #: A group as the resource itself (``/groups/<name>``).
    group: str | None = None
    service: str | None = None

    def matches(self, filt: str) -> bool:
        kind, _, value = filt.partition("=")
        if kind == "user":
            return value == self.user
        if kind == "server":
            return value == self.server
        if kind == "group":
            return value == self.group or value in self.groups
        if kind == "service":
            return value == self.service
        return False


def visitor_scopes(name: str) -> frozenset[str]:
    """What a temporary user (a Binder visitor) may do: see and use the server the
    binder started for it, and stop it. No server starts, no named servers, no tokens:
    the binder starts servers with its own token, after its quotas and rate limits.
    """
    return frozenset(f"{scope}!user={name}" for scope in (
        "read:users", "read:servers", "access:servers", "delete:servers",
    ))


def owner_scopes(admin: bool, *, temporary_name: str | None = None) -> frozenset[str]:
    """Scopes of a logged-in user (cookie) or of a ``self`` token; a temporary user
    (``temporary_name``) gets only :func:`visitor_scopes`."""
    if temporary_name is not None:
        return visitor_scopes(temporary_name)
    return frozenset({"admin", "self"} if admin else {"self"})


def has_scope(scopes: frozenset[str] | set[str], wanted: str, *, principal_user: str | None,
              target_user: str | None, owner_admin: bool = False,
              target: Target | None = None) -> bool:
    """May someone holding ``scopes`` (as ``principal_user``) do ``wanted`` to the target?

    ``target`` describes the resource (user, server, group, service); ``target_user``
    alone is the common case of a user's things.
    """
    if target is None:
        target = Target(user=target_user)
    granted = expand_scopes(frozenset(scopes), principal_user, owner_admin)
    if wanted in granted:
        return True
    prefix = f"{wanted}!"
    return any(s.startswith(prefix) and target.matches(s[len(prefix):]) for s in granted)


def target_of_filter(filt: str) -> Target:
    """The resource a filter names, to ask whether someone else may act on it."""
    kind, _, value = filt.partition("=")
    if kind == "user":
        return Target(user=value)
    if kind == "server":
        return Target(user=value.partition("/")[0], server=value)
    if kind == "group":
        return Target(group=value, groups=frozenset({value}))
    if kind == "service":
        return Target(service=value)
    return Target()


def scopes_beyond(
    held: frozenset[str],
    requested: Iterable[str],
    *,
    holder_user: str | None,
    holder_admin: bool,
    owner: str,
    owner_admin: bool,
) -> list[str]:
    """The requested scopes (for a token of ``owner``) that the holder does not hold itself.

    JupyterHub's rule: a token may only be handed out with permissions its requester
    (and its owner) have. Each requested scope is expanded to what it would really
    allow *as the new token's owner* (``self`` of an admin is everything), and each
    piece must be allowed to the holder (``held``, as ``holder_user``) too, on the
    same resource. Empty means "may grant".
    """
    beyond = []
    for scope in requested:
        for piece in sorted(expand_scopes(frozenset({scope}), owner, owner_admin)):
            base, _, filt = piece.partition("!")
            target = target_of_filter(filt) if filt else Target()
            if not has_scope(held, base, principal_user=holder_user, target_user=target.user,
                             owner_admin=holder_admin, target=target):
                beyond.append(scope)
                break
    return beyond
