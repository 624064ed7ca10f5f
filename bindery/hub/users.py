"""Changes to users that touch more than their row: renaming.

A rename keeps the user's id, so tokens, login sessions, group memberships, shares
and server rows follow it. What is keyed by the *name* outside the user row is moved
too (the password authenticator's credential). A rename is refused while one of the
user's servers is starting, running or stopping: its proxy route, container name and
the URLs open in browsers all carry the old name (JupyterHub renames anyway and
leaves such a server unreachable).
"""

from __future__ import annotations

from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from bindery.errors import BinderyError
from bindery.hub.auth.password_store import PasswordCredential
from bindery.hub.db.models import User
from bindery.hub.server_state import ServerStatus


class RenameRefused(BinderyError):
    """The rename cannot happen now; the message says why."""


def rename_user(s: Session, user: User, new_name: str) -> None:
    """Rename ``user`` (caller commits); ``new_name`` is already normalised and checked."""
    if new_name == user.name:
        return
    if s.scalars(select(User.id).where(User.name == new_name)).first() is not None:
        raise RenameRefused(f"User {new_name!r} already exists, user names must be unique.")
    busy = [srv.name or "(default)" for srv in user.servers if ServerStatus.of(srv).active]
    if busy:
        raise RenameRefused(
            f"User {user.name!r} cannot be renamed while servers run ({', '.join(busy)}): "
            "stop them first, as their addresses and containers carry the current name."
        )
    old = user.name
    user.name = new_name
    if inspect(s.get_bind()).has_table(PasswordCredential.__tablename__):
        s.execute(
            update(PasswordCredential)
            .where(PasswordCredential.user_name == old)
            .values(user_name=new_name)
        )
