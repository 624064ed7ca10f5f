"""The proxy a hub leaves running is found again through its record: adopted when it
fits (same ports; the recorded token reused when none is configured), replaced when it
does not, and the record is private (it holds the route-API token)."""

from __future__ import annotations

import stat

from hub.conftest import free_port

from bindery.hub.proxy.processes import ProxyProcess, ProxyRecord


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_running_proxy_is_adopted_with_its_token_or_replaced(tmp_path):
    record = tmp_path / "bindery-proxy.json"
    port, api_port = free_port(), free_port()
    first = ProxyProcess(port=port, api_port=api_port)
    assert first.start_or_adopt(record, token_given=False) == "started"
    try:
        assert stat.S_IMODE(record.stat().st_mode) == 0o600
        assert ProxyRecord.load(record).pid == first.process.pid

        # The next start (the hub crashed, no token configured) adopts it and its token.
        again = ProxyProcess(port=port, api_port=api_port)
        assert again.start_or_adopt(record, token_given=False) == "adopted"
        assert again.auth_token == first.auth_token and again.pid == first.process.pid

        # A hub on another address (its default target) does not adopt it ...
        moved = ProxyProcess(port=port, api_port=api_port, default_target="http://127.0.0.1:9")
        assert moved._fits(ProxyRecord.load(record), token_given=False) is False
        # ... and a start with other ports stops the old one and starts its own.
        other = ProxyProcess(port=port, api_port=free_port())
        assert other.start_or_adopt(record, token_given=False) == "replaced"
        assert not _alive(first.process.pid)
        assert ProxyRecord.load(record).pid == other.process.pid
        other.stop()
        assert not record.exists()
    finally:
        first.stop()
