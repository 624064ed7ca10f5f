"""Fixtures of the authenticator tests: a real SQLite hub DB and a bare login request."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from starlette.requests import Request

from bindery.hub.auth.password_store import ensure_password_table


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


# -- a real OpenID Connect provider process (oidc-provider-mock) -------------------


#: Users the provider knows: alice is staff, bob has no groups, "Bad/Name" is not a valid hub name.
OIDC_USERS = [
    {"sub": "alice-sub", "preferred_username": "Alice", "groups": ["staff", "physics"]},
    {"sub": "bob-sub", "preferred_username": "bob", "groups": []},
    {"sub": "carol-sub"},
    {"sub": "odd-sub", "preferred_username": "Bad/Name"},
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_oidc_provider(*extra_args: str) -> tuple[subprocess.Popen, str]:
    """Start the provider on 127.0.0.1 and wait until its discovery document answers."""
    port = _free_port()
    args = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for user in OIDC_USERS:
        args += ["--user-claims", json.dumps(user)]
    args += list(extra_args)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "NO_COLOR": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("oidc-provider-mock exited during start")
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200:
                return proc, issuer
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("oidc-provider-mock did not answer within 20 s")


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[str]:
    proc, issuer = start_oidc_provider("--require-nonce", "true")
    yield issuer
    proc.terminate()
    proc.wait(10)
