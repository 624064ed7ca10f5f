"""check_public_remote: what the public launch service refuses (SSRF); nothing is connected."""

from __future__ import annotations

import pytest

from bindery.errors import SpecError
from bindery.sources.safety import check_public_remote, is_public_address


@pytest.mark.parametrize("url", [
    "/srv/repo", "./repo", "~/repo", "repo", "file:///srv/repo.git", "FILE:///srv/repo.git",
    "git://127.0.0.1/x", "http://localhost:8080/x.git", "https://127.1/x", "http://0x7f000001/x",
    "http://2130706433/x", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/x",
    "http://10.1.2.3/x", "http://172.16.0.1/x", "http://192.168.1.1/x", "http://169.254.169.254/latest",
    "http://[fe80::1]/x", "http://[fd00::1]/x", "http://100.64.0.1/x", "http://240.0.0.1/x",
    "http://224.0.0.1/x", "git@127.0.0.1:owner/repo.git", "ssh://git@localhost/x.git",
    "ext::sh -c id", "--upload-pack=id", "gh:../../etc",
])
def test_local_and_private_remotes_are_refused(url: str) -> None:
    with pytest.raises(SpecError):
        check_public_remote(url)


@pytest.mark.parametrize("url", [
    "https://8.8.8.8/owner/repo.git", "git://1.1.1.1/x.git", "http://[2606:4700:4700::1111]/x",
    "git@9.9.9.9:owner/repo.git",
])
def test_public_addresses_pass(url: str) -> None:
    check_public_remote(url)


def test_hosted_shorthand_pointed_at_loopback_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from bindery.sources.hosted import GitHubSource

    monkeypatch.setattr(GitHubSource, "base_url", "http://127.0.0.1:9")
    with pytest.raises(SpecError, match="private network"):
        check_public_remote("gh:owner/repo")


def test_message_says_how_to_allow_it() -> None:
    with pytest.raises(SpecError, match="allow_local_repos"):
        check_public_remote("http://127.0.0.1/x")


def test_is_public_address() -> None:
    assert is_public_address("8.8.8.8") and not is_public_address("::ffff:10.0.0.1")
