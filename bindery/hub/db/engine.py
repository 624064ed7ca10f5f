"""Opening the hub database and bringing its schema up to date (Alembic, at every start)."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bindery.hub.db.private_files import protect_sqlite

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def import_all_models() -> None:
    """Import the hub's models so ``Base.metadata`` is complete (Alembic compares against it).

    Only the hub's own tables: a plugin that keeps a table (the password
    authenticator) creates it on its own ``MetaData`` when it starts.
    """
    importlib.import_module("bindery.hub.db.models")
    importlib.import_module("bindery.hub.oauth_provider.models")


def make_engine(db_url: str) -> Engine:
    """An engine with the settings each backend needs (SQLite: WAL + foreign keys)."""
    if db_url.startswith("postgresql://"):
        db_url = "postgresql+psycopg://" + db_url[len("postgresql://"):]
    if db_url.startswith("sqlite"):
        engine = create_engine(db_url, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(db_url, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply pending migrations; a fresh database gets the whole schema."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def open_database(db_url: str) -> tuple[Engine, sessionmaker[Session]]:
    """Engine + session factory for ``db_url``, schema migrated to the latest revision."""
    protect_sqlite(db_url)
    engine = make_engine(db_url)
    upgrade(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
