"""The hub's tables: users, their servers, API tokens, login sessions, groups and shares.

Timestamps are stored timezone-aware in UTC. Spawner ``state`` is JSON so that a
restarted hub can find each running server again (see ``servers.reconcile``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from bindery.hub.db.base import Base


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """DateTime that always comes back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


group_members = Table(
    "group_members",
    Base.metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    #: "user" for people with accounts, "temporary" for Binder visitors (culled with their server).
    kind: Mapped[str] = mapped_column(String(32), default="user")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_activity: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    servers: Mapped[list[Server]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="select"
    )
    login_sessions: Mapped[list[LoginSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="select"
    )
    groups: Mapped[list[Group]] = relationship(
        secondary=group_members, back_populates="users", lazy="selectin"
    )


class Server(Base):
    """One server of a user: the default one (``name == ""``) or a named one.

    A row exists while the server is defined; ``started is None`` means stopped.
    """

    __tablename__ = "servers"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    url: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    user_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    image: Mapped[str | None] = mapped_column(String(512), nullable=True)
    started: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_activity: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: "spawn" / "stop" while a transition runs, else None.
    pending: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: Secret the server requires. Kept in clear because the hub must hand it to the
    #: proxy again after a restart (the proxy injects it; browsers never see it).
    api_token: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: Why the server last failed to start or stopped on its own (out of memory, ...);
    #: cleared when it starts again.
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: What people see instead of the name (JupyterHub 6's ``display_name``).
    display_name: Mapped[str] = mapped_column(String(255), default="")

    user: Mapped[User] = relationship(back_populates="servers")


class ApiToken(Base):
    """An API token; only its SHA-256 and a short prefix (for people to recognise it) are kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hashed: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    prefix: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    #: Set for service tokens (no user), e.g. "admin-cli", "idle-culler", "binder".
    service: Mapped[str | None] = mapped_column(String(255), nullable=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_activity: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User | None] = relationship(back_populates="tokens")


class LoginSession(Base):
    """One browser's login: the ``bindery-session`` cookie names it, so deleting the row
    (logout, password change, user deletion) ends that login at once, whatever the
    cookie's own age. Only the SHA-256 of the session key is kept, like API tokens."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hashed: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="login_sessions")


class Group(Base):
    """A named set of users (JupyterHub's groups), with free-form ``properties``."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True, index=True)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    users: Mapped[list[User]] = relationship(
        secondary=group_members, back_populates="groups", lazy="selectin"
    )


class Share(Base):
    """One grant of access to a user's server (``owner``/``server_name``) to a user or group.

    Keyed by the server's owner and name rather than the server row: a stopped
    default server has no row, and JupyterHub lets its owner share it all the same.
    """

    __tablename__ = "shares"
    __table_args__ = (UniqueConstraint("owner_id", "server_name", "user_id", "group_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    server_name: Mapped[str] = mapped_column(String(255), default="")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), nullable=True, index=True
    )
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    group: Mapped[Group | None] = relationship()


class ShareCode(Base):
    """An invitation to a server: whoever accepts the code gets a share (kept hashed)."""

    __tablename__ = "share_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hashed: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    server_name: Mapped[str] = mapped_column(String(255), default="")
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    exchange_count: Mapped[int] = mapped_column(Integer, default=0)
    last_exchanged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    owner: Mapped[User] = relationship()
