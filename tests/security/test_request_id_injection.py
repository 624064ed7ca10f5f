"""A client's ``X-Request-Id`` reaches every log line of its request: only a plain token
is kept, anything that could forge or break a log line is replaced by a fresh id."""

from __future__ import annotations

import re

import pytest

from bindery.request_id import accepted


@pytest.mark.parametrize("sent", ['x", "level": "critical', "a b", "é", "x" * 65, "", "a\tb"])
def test_a_crafted_request_id_is_replaced(api_hub, sent: str) -> None:
    answer = api_hub.client.get("/hub/api/", headers={"X-Request-Id": sent.encode("utf-8")})
    rid = answer.headers["x-request-id"]
    assert rid != sent and re.fullmatch(r"[0-9a-f]{16}", rid)


def test_a_plain_request_id_is_kept(api_hub) -> None:
    answer = api_hub.client.get("/hub/api/", headers={"X-Request-Id": "launch-42.a_b"})
    assert answer.headers["x-request-id"] == "launch-42.a_b"
    assert accepted("launch-42.a_b") == "launch-42.a_b"
