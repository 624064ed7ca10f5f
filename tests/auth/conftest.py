"""Fixtures of the authenticator tests: a real SQLite hub DB and a bare login request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from starlette.requests import Request

from bindery.hub.auth.password import ensure_password_table


@pytest.fixture
def login_request() -> Request:
    """What the hub passes for a POST /hub/login (form data is given separately)."""
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/hub/login",
            "headers": [],
            "query_string": b"",
            "client": ("127.0.0.1", 50000),
        }
    )


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'hub.sqlite'}"


@pytest.fixture
def session_factory(db_url: str) -> Iterator[sessionmaker]:
    engine = create_engine(db_url)
    ensure_password_table(engine)
    yield sessionmaker(engine)
    engine.dispose()
