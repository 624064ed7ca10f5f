"""Keep the hub's state files readable by the hub's own account only.

The SQLite database holds hashed tokens, the server tokens the proxy needs (see
docs/security.md, finding 9) and every user's name; another local account must not
read it. New files are created 0600 and existing ones are tightened on every start,
because a database made by an older version (or by hand) may be 0644.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
# SQLite's companions: the write-ahead log and its shared-memory index hold the same data.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_directory(path: Path) -> None:
    """Create ``path`` (and parents) if missing and make it 0700."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR:
        path.chmod(PRIVATE_DIR)


def private_file(path: Path) -> None:
    """Create ``path`` empty as 0600 if missing, else make it 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) != PRIVATE_FILE:
            path.chmod(PRIVATE_FILE)
    else:
        os.close(fd)


def sqlite_path(db_url: str) -> Path | None:
    """The database file of a file-backed SQLite URL; ``None`` for in-memory or other backends."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):
        return None  # a URI filename: its options (mode=memory...) are the owner's business
    return Path(url.database)


def protect_sqlite(db_url: str) -> None:
    """Make a SQLite database file (and its WAL companions) 0600 before SQLite opens it.

    SQLite creates its ``-wal``/``-shm`` files with the database file's mode, so a
    0600 database keeps them private too; existing ones are tightened as well.
    """
    path = sqlite_path(db_url)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    private_file(path)
    for suffix in _SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            private_file(companion)
