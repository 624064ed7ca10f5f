"""Logging for the long-running commands (``bindery serve``, ``bindery hub``, ``bindery proxy``).

Libraries log their internals at INFO: httpx one line per request (the binder polls
the hub every few seconds, the hub polls the proxy), alembic one line per plugin at
start. A person watching the service should see Bindery's own messages, so those
libraries are held at WARNING unless the chosen level is DEBUG.

``json_format``: one JSON object per line (``time``, ``level``, ``logger``,
``message``, ``request_id`` when handling a request, ``exception``), for log
collectors; the request id is the one carried in ``X-Request-Id``
(:mod:`bindery.request_id`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from bindery.request_id import current

#: Libraries whose INFO lines describe their own plumbing, not the service.
CHATTY_LIBRARIES = ("httpx", "httpcore", "alembic")


class JsonFormatter(logging.Formatter):
    """One JSON object per record; fields a collector can index without parsing text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or current()
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int | str, fmt: str, *, json_format: bool = False) -> None:
    """Root logging at ``level`` (text in ``fmt``, or JSON); chatty libraries at WARNING."""
    if json_format:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=level, handlers=[handler], force=True)
    else:
        logging.basicConfig(level=level, format=fmt)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in CHATTY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
