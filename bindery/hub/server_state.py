"""What state a user's server is in: the one place that reads it from a ``servers`` row.

A row stores the state in two columns: ``started`` (set while a server runs; set and
cleared together with ``url``) and ``pending`` (``"spawn"``/``"stop"`` while a
transition runs, JupyterHub's values). Everything that asks "is it running / starting /
stopping?" (the API's models, pages, the culler, the server manager) goes through
:class:`ServerStatus`, in Python (:meth:`ServerStatus.of`) or in SQL
(:func:`status_is`), so the two readings can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote

from sqlalchemy import ColumnElement, and_, false, or_

from bindery.hub.db.models import Server

#: ``Server.pending`` while the server starts / stops.
_PENDING_START = "spawn"
_PENDING_STOP = "stop"


class ServerStatus(StrEnum):
    """The life cycle of one server: stopped → starting → running → stopping → stopped."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"

    @classmethod
    def of(cls, row: Server | None) -> ServerStatus:
        """The status a ``servers`` row records (no row: the server was never started)."""
        if row is None:
            return cls.STOPPED
        if row.pending == _PENDING_START:
            return cls.STARTING
        if row.pending == _PENDING_STOP:
            return cls.STOPPING
        return cls.RUNNING if row.started is not None else cls.STOPPED

    @property
    def pending(self) -> str | None:
        """JupyterHub's ``pending`` value: ``"spawn"``, ``"stop"`` or ``None``; stored as such."""
        return {ServerStatus.STARTING: _PENDING_START, ServerStatus.STOPPING: _PENDING_STOP}.get(
            self
        )

    @property
    def active(self) -> bool:
        """Running or in a transition: what JupyterHub lists in a user's ``servers``."""
        return self is not ServerStatus.STOPPED


def status_is(*statuses: ServerStatus) -> ColumnElement[bool]:
    """SQL condition on ``Server`` rows equal to ``ServerStatus.of(row) in statuses``."""
    clauses = {
        ServerStatus.STARTING: Server.pending == _PENDING_START,
        ServerStatus.STOPPING: Server.pending == _PENDING_STOP,
        ServerStatus.RUNNING: and_(Server.pending.is_(None), Server.started.is_not(None)),
        ServerStatus.STOPPED: and_(Server.pending.is_(None), Server.started.is_(None)),
    }
    return or_(false(), *(clauses[status] for status in statuses))


def active() -> ColumnElement[bool]:
    """SQL condition: the server is running, starting or stopping."""
    return status_is(ServerStatus.STARTING, ServerStatus.RUNNING, ServerStatus.STOPPING)


@dataclass(frozen=True)
class ServerState:
    """A server's status and, when its last start failed, why (for the person who started it)."""

    status: ServerStatus
    failure: str | None = None


def server_base_url(user: str, server_name: str = "") -> str:
    """``/user/alice/`` or ``/user/alice/proj/``: where the proxy routes the server."""
    return f"/user/{quote(user, safe='@~')}/" + (f"{quote(server_name, safe='@~')}/" if server_name else "")
