"""The audit log: who did what to whom, one JSON object per line, append-only.

Institutions running a hub must be able to show who logged in, who was given which
rights and whose code ran in which image. Every such event becomes one line::

    {"time": "2026-12-01T18:00:00.123Z", "event": "token.created", "actor": "admin",
     "user": "alice", "token_id": "7", "scopes": ["self"], "note": ""}

Events: ``login``, ``login.failed``, ``logout``, ``user.created``, ``user.deleted``,
``user.changed`` (admin flag), ``token.created``, ``token.revoked``, ``server.started``,
``server.stopped``. ``actor`` is whoever made the request (a user, a service's token,
the hub itself as ``"hub"``).

Lines go through Python's logging to a size-rotated file (``[hub.audit]``), created
0600 like the database. Users and tokens are recorded where the database changes
(SQLAlchemy mapper events), so no API route or page can change them unrecorded;
logins and servers are recorded by the one place each happens (``pages.finish_login``,
``ServerManager``). The requester is carried in a context variable set when a request
is authenticated, so call sites need not pass it along.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import io
import json
import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any

from pydantic import Field

from bindery.config import Section

LOGGER_NAME = "bindery.audit"
_log = logging.getLogger(LOGGER_NAME)
_log.propagate = False  # audit lines belong in the audit file, not in the console log
_log.setLevel(logging.INFO)

#: Who the current request acts as (set when it is authenticated).
_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("bindery_audit_actor",
                                                                    default=None)


class AuditSettings(Section):
    """``[hub.audit]``: where the audit log goes and when it rotates."""

    #: Write the audit log at all.
    enabled: bool = True
    #: The file ("" = ``hub-audit.jsonl`` beside the SQLite database, else in the
    #: working directory).
    path: str = ""
    #: Start a new file once the current one reaches this many bytes.
    max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    #: Rotated files kept (``hub-audit.jsonl.1`` …); older ones are deleted.
    backup_count: int = Field(default=10, ge=0)


def default_audit_path(db_url: str, data_dir: str = "") -> Path:
    """Beside the SQLite database, else in the instance's data directory (``[hub]
    data_dir``), else the working directory."""
    prefix = "sqlite:///"
    if db_url.startswith(prefix) and ":memory:" not in db_url:
        return Path(db_url[len(prefix):]).parent / "hub-audit.jsonl"
    return Path(data_dir) / "hub-audit.jsonl" if data_dir else Path("bindery-hub-audit.jsonl")


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files are 0600 from their first byte."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.chmod(self.baseFilename, 0o600)  # an older, wider file is tightened
        return os.fdopen(fd, "a", encoding=self.encoding or "utf-8")


class _JsonLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = getattr(record, "audit", None) or {"event": record.getMessage()}
        return json.dumps(data, default=str, separators=(", ", ": "))


def open_audit_log(settings: AuditSettings, db_url: str,
                   data_dir: str = "") -> logging.Handler | None:
    """Attach the audit file to the audit logger (once per hub); returns it for ``close``."""
    if not settings.enabled:
        return None
    path = Path(settings.path) if settings.path else default_audit_path(db_url, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = PrivateRotatingFileHandler(path, maxBytes=settings.max_bytes,
                                         backupCount=settings.backup_count, encoding="utf-8")
    handler.setFormatter(_JsonLine())
    for old in list(_log.handlers):  # one hub per process: a restarted hub replaces its file
        _log.removeHandler(old)
        old.close()
    _log.addHandler(handler)
    return handler


def close_audit_log(handler: logging.Handler | None) -> None:
    if handler is not None:
        _log.removeHandler(handler)
        handler.close()


def set_actor(name: str | None) -> None:
    """Record who the current request acts as (called when it is authenticated)."""
    _actor.set(name)


def record(event: str, *, actor: str | None = None, **fields: Any) -> None:
    """Write one audit line (nothing when no audit file is open)."""
    if not _log.handlers:
        return
    now = dt.datetime.now(dt.UTC)
    line = {
        "time": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "event": event,
        "actor": actor or _actor.get() or "hub",
        **fields,
    }
    _log.info(event, extra={"audit": line})


def watch_database() -> None:
    """Record users and tokens as the database gains or loses them (idempotent)."""
    from sqlalchemy import event, inspect

    from bindery.hub.db.models import ApiToken, User

    if getattr(watch_database, "done", False):
        return
    watch_database.done = True  # type: ignore[attr-defined]

    @event.listens_for(User, "after_insert")
    def _user_created(mapper: Any, connection: Any, user: User) -> None:
        record("user.created", user=user.name, admin=bool(user.admin), kind=user.kind)

    @event.listens_for(User, "after_delete")
    def _user_deleted(mapper: Any, connection: Any, user: User) -> None:
        record("user.deleted", user=user.name)

    @event.listens_for(User, "after_update")
    def _user_changed(mapper: Any, connection: Any, user: User) -> None:
        changes = {}
        state = inspect(user)
        for attribute in ("admin", "name"):
            history = state.attrs[attribute].history
            if history.has_changes() and history.deleted:
                changes[attribute] = {"from": history.deleted[0], "to": getattr(user, attribute)}
        if changes:
            record("user.changed", user=user.name, changes=changes)

    @event.listens_for(ApiToken, "after_insert")
    def _token_created(mapper: Any, connection: Any, token: ApiToken) -> None:
        record("token.created", **_token_fields(token), scopes=list(token.scopes or []),
               note=token.note, expires_at=token.expires_at)

    @event.listens_for(ApiToken, "after_delete")
    def _token_revoked(mapper: Any, connection: Any, token: ApiToken) -> None:
        record("token.revoked", **_token_fields(token), scopes=list(token.scopes or []))


def _token_fields(token: Any) -> dict[str, Any]:
    owner = token.user.name if token.user is not None else None
    # A string, as the REST API shows token ids (JupyterHub's model).
    fields: dict[str, Any] = {"token_id": str(token.id), "prefix": token.prefix}
    if owner is not None:
        fields["user"] = owner
    if token.service:
        fields["service"] = token.service
    return fields
