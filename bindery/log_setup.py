"""Logging for the long-running commands (``bindery serve``, ``bindery hub``).

Libraries log their internals at INFO: httpx one line per request (the binder polls
the hub every few seconds, the hub polls the proxy), alembic one line per plugin at
start. A person watching the service should see Bindery's own messages, so those
libraries are held at WARNING unless the chosen level is DEBUG.
"""

from __future__ import annotations

import logging

#: Libraries whose INFO lines describe their own plumbing, not the service.
CHATTY_LIBRARIES = ("httpx", "httpcore", "alembic")


def configure_logging(level: int | str, fmt: str) -> None:
    """Root logging at ``level``; chatty libraries at WARNING unless debugging."""
    logging.basicConfig(level=level, format=fmt)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in CHATTY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
