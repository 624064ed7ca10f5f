"""The service's log shows Bindery's messages, not every HTTP request a library makes."""

from __future__ import annotations

import logging

import pytest

from bindery.log_setup import CHATTY_LIBRARIES, configure_logging


@pytest.fixture(autouse=True)
def _restore_levels():
    saved = {n: logging.getLogger(n).level for n in ("", *CHATTY_LIBRARIES)}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_library_plumbing_is_quiet_at_info() -> None:
    configure_logging(logging.INFO, "%(message)s")
    logging.getLogger().setLevel(logging.INFO)
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert not logging.getLogger("alembic").isEnabledFor(logging.INFO)
    assert logging.getLogger("bindery.hub").isEnabledFor(logging.INFO)


def test_debug_shows_everything() -> None:
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET)
    logging.getLogger().setLevel(logging.DEBUG)
    configure_logging(logging.DEBUG, "%(message)s")
    assert logging.getLogger("httpx").isEnabledFor(logging.DEBUG)
