"""Scopes: what a token (or a logged-in user) may do, JupyterHub's names and meanings.

``self`` means "everything the owner may do to their own resources" (and, for an
admin, everything). A scope may be narrowed to one user: ``servers!user=alice``.
"""

from __future__ import annotations

KNOWN_SCOPES = frozenset({
    "admin", "self", "users", "list:users", "read:users", "read:users:activity", "users:activity",
    "read:servers", "delete:servers", "servers", "tokens", "read:tokens", "access:servers",
    "admin:users", "admin:servers", "read:metrics",
})

#: Holding the key grants the values too (transitively).
IMPLIES: dict[str, set[str]] = {
    "admin": set(KNOWN_SCOPES) - {"self"},
    "admin:users": {"users", "read:users", "list:users", "read:users:activity", "users:activity"},
    "admin:servers": {"servers", "read:servers", "delete:servers"},
    "users": {"read:users", "list:users", "users:activity"},
    "read:users": {"read:users:activity"},
    "servers": {"read:servers", "delete:servers"},
    "tokens": {"read:tokens"},
}

#: What ``self`` grants on the owner's own resources.
SELF_SCOPES = frozenset({
    "read:users", "read:users:activity", "users:activity", "read:servers", "delete:servers",
    "servers", "tokens", "read:tokens", "access:servers",
})


class ScopeError(ValueError):
    """A requested scope does not exist (the message lists the known ones)."""


def check_scopes(scopes: object) -> list[str]:
    """Validate a list of scope strings (``name`` or ``name!user=<user>``)."""
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ScopeError("'scopes' must be a list of strings, e.g. [\"read:users\"].")
    for scope in scopes:
        base, _, filt = scope.partition("!")
        if base not in KNOWN_SCOPES or (filt and not filt.startswith("user=")):
            raise ScopeError(
                f"Unknown scope {scope!r}. Known scopes: {', '.join(sorted(KNOWN_SCOPES))} "
                "(optionally narrowed with '!user=<name>')."
            )
    return list(dict.fromkeys(scopes))


def expand(scope: str) -> set[str]:
    out, todo = set(), [scope]
    while todo:
        s = todo.pop()
        if s not in out:
            out.add(s)
            todo.extend(IMPLIES.get(s, ()))
    return out


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
              target_user: str | None, owner_admin: bool = False) -> bool:
    """May someone holding ``scopes`` (as ``principal_user``) do ``wanted`` to ``target_user``'s
    things?"""
    for scope in scopes:
        base, _, filt = scope.partition("!")
        if base == "self":
            if owner_admin and wanted in expand("admin"):
                return True
            if (
                principal_user is not None
                and target_user == principal_user
                and wanted in SELF_SCOPES
            ):
                return True
            continue
        if wanted in expand(base):
            if not filt:
                return True
            if target_user is not None and filt == f"user={target_user}":
                return True
    return False


def granted_pairs(scope: str, owner: str, owner_admin: bool) -> list[tuple[str, str | None]]:
    """What ``scope`` on a token of ``owner`` lets it do, as ``(scope, user or None = anyone)``."""
    base, _, filt = scope.partition("!")
    if base == "self":
        if owner_admin:
            return [(s, None) for s in sorted(expand("admin"))]
        return [(s, owner) for s in sorted(SELF_SCOPES)]
    target = filt.removeprefix("user=") if filt else None
    return [(s, target) for s in sorted(expand(base))]


def scopes_beyond(
    held: frozenset[str],
    requested: list[str],
    *,
    holder_user: str | None,
    holder_admin: bool,
    owner: str,
    owner_admin: bool,
) -> list[str]:
    """The requested scopes (for a token of ``owner``) that the requester does not hold itself.

    JupyterHub's rule: a token may only be handed out with permissions its requester
    has. Each requested scope is expanded to what it would really allow *as the new
    token's owner* (``self`` of an admin is everything), and each piece must be allowed
    to the requester (``held``, as ``holder_user``) too. Empty means "may grant".
    """
    beyond = []
    for scope in requested:
        for wanted, target in granted_pairs(scope, owner, owner_admin):
            if not has_scope(held, wanted, principal_user=holder_user, target_user=target,
                             owner_admin=holder_admin):
                beyond.append(scope)
                break
    return beyond
