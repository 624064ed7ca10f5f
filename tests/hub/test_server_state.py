"""The server status is read from a row in one place, and its SQL form agrees with it."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import select

from bindery.hub.db.engine import open_database
from bindery.hub.db.models import Server, User, utcnow
from bindery.hub.server_state import ServerStatus, active, status_is


@pytest.mark.parametrize(
    ("started", "pending", "expected"),
    [
        (False, None, ServerStatus.STOPPED),
        (False, "spawn", ServerStatus.STARTING),
        (True, None, ServerStatus.RUNNING),
        (True, "stop", ServerStatus.STOPPING),
        (False, "stop", ServerStatus.STOPPING),  # a start cancelled by a stop
    ],
)
def test_status_of_a_row(started: bool, pending: str | None, expected: ServerStatus) -> None:
    row = Server(
        name="",
        started=utcnow() if started else None,
        pending=pending,
        url="http://127.0.0.1:1" if started else None,
    )
    status = ServerStatus.of(row)
    assert status is expected
    assert status.pending == pending  # JupyterHub's "pending" field, and what the row stores
    assert status.active is (expected is not ServerStatus.STOPPED)
    assert ServerStatus.of(None) is ServerStatus.STOPPED


def test_sql_conditions_select_what_the_python_reading_says(tmp_path: Path) -> None:
    engine, db = open_database(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    try:
        with db() as s:
            user = User(name="ann")
            for index, (started, pending) in enumerate(
                itertools.product((False, True), (None, "spawn", "stop"))
            ):
                user.servers.append(
                    Server(
                        name=f"s{index}",
                        started=utcnow() if started else None,
                        pending=pending,
                        state={},
                        user_options={},
                    )
                )
            s.add(user)
            s.commit()
            rows = s.scalars(select(Server)).all()
            for status in ServerStatus:
                chosen = {srv.name for srv in s.scalars(select(Server).where(status_is(status)))}
                assert chosen == {srv.name for srv in rows if ServerStatus.of(srv) is status}, (
                    status
                )
            chosen = {srv.name for srv in s.scalars(select(Server).where(active()))}
            assert chosen == {srv.name for srv in rows if ServerStatus.of(srv).active}
    finally:
        engine.dispose()
