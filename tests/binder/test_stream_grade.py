"""The reproducibility grade reaches Binder clients: as a build-log line on a fresh
build, and as the ``grade`` field of the ``built`` event when the image is cached."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from .conftest import read_events

pytestmark = [pytest.mark.engine]


def test_grade_in_the_build_log_and_on_the_cached_built_event(binder, git_server):
    repo = git_server.publish({"requirements.txt": "six==1.16.0\n", "runtime.txt": "python-3.11\n"})
    url, _ = binder()
    spec = f"git/{quote(repo, safe='')}/HEAD"
    events = read_events(url + "build/" + spec + "?build_only=true")
    log = "".join(e.get("message", "") for e in events)
    assert ("Bindery: Reproducibility grade: A (every requirement in requirements.txt is ==; "
            "Python 3.11 (runtime.txt); no apt.txt)") in log

    events = read_events(url + "build/" + spec)
    built = next(e for e in events if e["phase"] == "built")
    assert built["message"] == "Found built image, launching...\n"
    assert built["grade"].startswith("Reproducibility grade: A (")
