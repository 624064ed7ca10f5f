"""Models and migrations on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bindery.hub.auth.password_store import ensure_password_table
from bindery.hub.db.base import Base
from bindery.hub.db.engine import (
    alembic_config,
    import_all_models,
    make_engine,
    open_database,
    upgrade,
)
from bindery.hub.db.models import ApiToken, LoginSession, Server, User, utcnow
from bindery.hub.sessions import session_user, start_session
from bindery.hub.tokens import create_token, find_token

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free loopback port, run as the ``postgres`` OS user."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN} (apt-get install postgresql)")
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="bindery-test-hub-pg-"))
    data = root / "data"
    if as_postgres:
        shutil.chown(root, "postgres")
    port = _free_port()
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "bindery",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-o",
            f"-p {port} -h 127.0.0.1 -k {root}",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        url = f"postgresql+psycopg://bindery@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + 20
        while True:
            try:
                engine = sa.create_engine(url)
                with engine.connect():
                    break
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
            finally:
                engine.dispose()
        yield url
    finally:
        subprocess.run(
            [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    # A fresh schema per test, so tests do not see each other's rows.
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


def test_migration_creates_every_table_of_the_models(db_url):
    engine, _ = open_database(db_url)
    try:
        import_all_models()
        tables = set(sa.inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert {"users", "servers", "api_tokens"} <= tables
        assert {"groups", "group_members", "shares", "share_codes"} <= tables  # 0004
        # The password authenticator's table is the plugin's own: it makes it when it starts.
        assert "password_credentials" not in tables
        ensure_password_table(engine)
        assert "password_credentials" in set(sa.inspect(engine).get_table_names())
        upgrade(engine)  # a second start is a no-op, not an error
    finally:
        engine.dispose()


def test_upgrading_a_first_schema_database_keeps_users_and_drops_groups(db_url):
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO users (name, admin, kind, created) "
                    "VALUES ('ann', false, 'user', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(sa.text("INSERT INTO groups (name) VALUES ('staff')"))
            conn.execute(sa.text("INSERT INTO group_members (group_id, user_id) VALUES (1, 1)"))
        upgrade(engine, "0003")  # 0004 brings groups back, empty
        tables = set(sa.inspect(engine).get_table_names())
        assert "users" in tables and not {"groups", "group_members"} & tables
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT name FROM users")).scalars().all() == ["ann"]
    finally:
        engine.dispose()


def test_users_servers_tokens_round_trip(db_url):
    engine, db = open_database(db_url)
    try:
        with db() as s:
            user = User(name="ann", admin=True, kind="temporary", created=utcnow())
            user.servers.append(
                Server(
                    name="",
                    state={"pid": 12, "nested": {"a": [1, 2]}},
                    user_options={},
                    started=utcnow(),
                    api_token="secret",
                )
            )
            s.add(user)
            token, _ = create_token(
                s, user=user, scopes=["read:servers"], note="ci", expires_in=3600
            )
            s.commit()
        with db() as s:
            ann = s.scalars(select(User).where(User.name == "ann")).one()
            assert ann.kind == "temporary" and ann.admin
            assert ann.servers[0].state == {"pid": 12, "nested": {"a": [1, 2]}}
            assert ann.servers[0].started.tzinfo is not None
            row = find_token(s, token)
            assert row is not None and row.scopes == ["read:servers"] and row.user.name == "ann"
            assert row.expires_at > utcnow() + dt.timedelta(minutes=59)
            assert find_token(s, token + "x") is None
            # Deleting a user removes their servers and tokens with them.
            s.delete(ann)
            s.commit()
            assert s.scalar(select(sa.func.count()).select_from(Server)) == 0
            assert s.scalar(select(sa.func.count()).select_from(ApiToken)) == 0
    finally:
        engine.dispose()


def test_login_sessions_migrate_up_and_down_and_go_with_their_user(db_url):
    """0003 adds ``login_sessions`` to a 0002 database (keeping its users), a session row
    goes when its user is deleted (even by plain SQL: the foreign key cascades), and the
    revision downgrades cleanly."""
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0002")
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO users (name, admin, kind, created) "
                                 "VALUES ('ann', false, 'user', CURRENT_TIMESTAMP)"))
        assert "login_sessions" not in sa.inspect(engine).get_table_names()
        upgrade(engine)
        inspector = sa.inspect(engine)
        assert "login_sessions" in inspector.get_table_names()
        assert {ix["name"] for ix in inspector.get_indexes("login_sessions")} >= {
            "ix_login_sessions_hashed", "ix_login_sessions_user_id"}
        db = sessionmaker(engine, expire_on_commit=False)
        with db() as s:
            ann = s.scalars(select(User).where(User.name == "ann")).one()
            key = start_session(s, ann, 3600)
            s.commit()
            assert session_user(s, "ann", key) is not None
            assert session_user(s, "bob", key) is None
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM users WHERE name = 'ann'"))
        with db() as s:
            assert s.scalar(select(sa.func.count()).select_from(LoginSession)) == 0
        upgrade(engine)  # already at head: a no-op
        _downgrade(engine, "0002")
        assert "login_sessions" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _downgrade(engine: sa.Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_user_names_are_unique(db_url):
    engine, db = open_database(db_url)
    try:
        with db() as s:
            s.add(User(name="bo", created=utcnow()))
            s.commit()
            s.add(User(name="bo", created=utcnow()))
            with pytest.raises(sa.exc.IntegrityError):
                s.commit()
    finally:
        engine.dispose()


def test_postgresql_urls_without_driver_use_psycopg():
    engine = make_engine("postgresql://u@127.0.0.1:1/x")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()
