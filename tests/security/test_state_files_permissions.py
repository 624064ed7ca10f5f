"""Issue 8, finding 9 (files): the hub's state is readable by the hub's account only.

The review found ``hub.sqlite`` at mode 0644 with the servers' API tokens in it. Now
``bindery serve``'s data directory is 0700, the SQLite database (and its WAL files)
0600 and the cookie secret 0600 — made so when created, and tightened on every start
when an older version or a person left them open.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hub.conftest import make_settings
from starlette.testclient import TestClient

from bindery.commands.serve import prepare_settings
from bindery.composition import Settings
from bindery.hub.app import Hub, build_app, load_cookie_secret
from bindery.hub.db.engine import open_database
from bindery.hub.spawners.factory import spawner_factory


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_serve_makes_its_data_directory_private(tmp_path):
    fresh = tmp_path / "new" / "data"
    s = Settings()
    s.binder.data_dir = str(fresh)
    prepared = prepare_settings(s)
    assert mode(fresh) == 0o700
    assert prepared.hub.db_url == f"sqlite:///{fresh / 'hub.sqlite'}"
    # An existing, open directory is tightened on start.
    fresh.chmod(0o755)
    prepare_settings(s)
    assert mode(fresh) == 0o700


def test_a_new_sqlite_database_is_0600(tmp_path):
    old = os.umask(0o022)  # the usual umask, which made 0644 files before
    try:
        engine, _ = open_database(f"sqlite:///{tmp_path / 'hub.sqlite'}")
        engine.dispose()
    finally:
        os.umask(old)
    assert mode(tmp_path / "hub.sqlite") == 0o600
    for companion in tmp_path.glob("hub.sqlite-*"):
        assert mode(companion) == 0o600, companion


def test_an_existing_open_database_is_tightened_on_start(tmp_path):
    db = tmp_path / "hub.sqlite"
    engine, _ = open_database(f"sqlite:///{db}")
    engine.dispose()
    db.chmod(0o644)
    for companion in tmp_path.glob("hub.sqlite-*"):
        companion.chmod(0o644)
    settings = make_settings(tmp_path)
    hub = Hub(settings, proxy=False,
              spawner_factory=spawner_factory(settings.spawner, settings.hub_id))
    with TestClient(build_app(hub), base_url="http://127.0.0.1"):
        assert mode(db) == 0o600
        for companion in tmp_path.glob("hub.sqlite-*"):
            assert mode(companion) == 0o600, companion


def test_the_cookie_secret_file_is_and_stays_0600(tmp_path):
    settings = make_settings(tmp_path)
    settings.cookie_secret = ""
    settings.cookie_secret_file = str(tmp_path / "cookie-secret")
    secret = load_cookie_secret(settings)
    path = Path(settings.cookie_secret_file)
    assert mode(path) == 0o600
    path.chmod(0o644)
    assert load_cookie_secret(settings) == secret
    assert mode(path) == 0o600


def test_other_databases_are_left_alone(tmp_path):
    """In-memory SQLite (and PostgreSQL) have no file to protect: nothing is created."""
    engine, _ = open_database("sqlite://")
    engine.dispose()
    assert list(tmp_path.iterdir()) == []
