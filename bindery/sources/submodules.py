"""A checkout's git submodules, fetched only from where the repository itself could be (SSRF).

``git submodule update --init --recursive`` contacts whatever a repository's
``.gitmodules`` names: a git daemon on 127.0.0.1, a host on the private network,
an ``ext::`` command. So submodules are fetched one level at a time: git first
records the URL it would use for each one (``git submodule init`` resolves
relative URLs against the parent's own URL), every such URL is checked with the
rules a repository URL typed by a person passes, and only then is anything
fetched; the submodules of submodules are handled the same way. One refused URL
refuses the whole fetch with a message naming it, so nothing is silently missing.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bindery.errors import SourceError, SpecError
from bindery.sources.gitcmd import git_reason
from bindery.sources.safety import check_public_remote
from bindery.sources.validation import check_git_url

log = logging.getLogger(__name__)

#: How deep submodules may nest (a repository that contains itself would never end).
MAX_DEPTH = 8

#: Runs ``git <args>`` in a directory (the git source's hardened, time- and size-bounded runner).
GitRunner = Callable[[Sequence[str], Path], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class SubmodulePolicy:
    """Whether submodules are fetched, and from which hosts."""

    #: Fetch submodules at all (off: their directories stay empty).
    enabled: bool = True
    #: Hosts on this machine or a private network. A public service says no, as it
    #: does for the repository's own URL; ``bindery build`` trusts its user.
    allow_private_hosts: bool = True

    def check(self, url: str) -> None:
        """SpecError unless a submodule may be fetched from ``url``."""
        if url.startswith(("/", ".", "~")) or url.lower().startswith("file:"):
            raise SpecError(
                f"{url!r} is a path on this machine; submodules are only fetched from remote "
                "repositories (https://, http://, git://, ssh://)."
            )
        check_git_url(url)
        if not self.allow_private_hosts:
            check_public_remote(url)


def _config_entries(output: str, suffix: str) -> dict[str, str]:
    """``{submodule name: value}`` from ``git config -z --get-regexp '^submodule\\..*\\.<suffix>$'``."""
    found: dict[str, str] = {}
    for record in output.split("\0"):
        key, _, value = record.partition("\n")
        if key.startswith("submodule.") and key.endswith(f".{suffix}"):
            found[key[len("submodule."):-len(suffix) - 1]] = value
    return found


def update_submodules(checkout: Path, url: str, policy: SubmodulePolicy, run: GitRunner,
                      depth: int = 0) -> None:
    """Fetch the submodules of ``checkout`` (a checkout of ``url``), recursively, as ``policy`` allows.

    SpecError names the first submodule whose URL is refused (nothing of that level
    has been fetched then); a submodule git cannot fetch is logged and left empty,
    as ``git submodule update`` would.
    """
    if not (checkout / ".gitmodules").exists():
        return
    if not policy.enabled:
        log.info("submodules of %s not fetched: submodules are turned off ([sources.git])", url)
        return
    if depth >= MAX_DEPTH:
        raise SourceError(f"the submodules of {url} nest more than {MAX_DEPTH} levels deep")
    init = run(["submodule", "init", "--"], checkout)
    if init.returncode != 0:
        log.warning("submodules of %s not fetched: %s", url, git_reason(init.stderr))
        return
    urls = _config_entries(
        run(["config", "--local", "-z", "--get-regexp", r"^submodule\..*\.url$"], checkout).stdout,
        "url")
    paths = _config_entries(
        run(["config", "--file", ".gitmodules", "-z", "--get-regexp", r"^submodule\..*\.path$"],
            checkout).stdout,
        "path")
    for name, sub_url in sorted(urls.items()):
        try:
            policy.check(sub_url)
        except SpecError as exc:
            raise SpecError(
                f"The submodule {name!r} of {url} cannot be fetched: {exc}"
            ) from None
    if not urls:
        return
    update = run(["submodule", "update", "--checkout", "--depth", "1", "--"], checkout)
    if update.returncode != 0:
        log.warning("submodules of %s not fetched: %s", url, git_reason(update.stderr))
        return
    for name, sub_url in sorted(urls.items()):
        inner = checkout / paths.get(name, name)
        if inner.resolve().is_relative_to(checkout.resolve()) and (inner / ".git").exists():
            update_submodules(inner, sub_url, policy, run, depth + 1)
