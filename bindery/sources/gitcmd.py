"""Running ``git`` for the sources: never interactive, never hooks, always bounded.

Every call goes through :func:`run_git`, so the same hardening applies to all of
them: no credential prompts (a missing repository on a hosted site would
otherwise hang waiting for a password), only the transports Bindery fetches from
(``ext::``/``fd::`` and unknown ones never; ``file://`` and local paths only when
named by the command itself, never by a repository's ``.gitmodules``), no system
config, no hooks from a fetched repository, and a timeout. ``-c`` settings reach
the git processes git itself starts (a submodule's clone), so they hold there too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from bindery.errors import SourceError

#: Default seconds one git command may take (set ``GitSource.timeout`` to change).
DEFAULT_TIMEOUT = 120.0

_HARDENING = (
    # An allow-list of transports: anything not named here is refused.
    "-c", "protocol.allow=never",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.http.allow=always",
    "-c", "protocol.git.allow=always",
    "-c", "protocol.ssh.allow=always",
    # "user": only when the command names it; git submodule's own clones are refused.
    "-c", "protocol.file.allow=user",
    "-c", "protocol.ext.allow=never",
    "-c", "protocol.fd.allow=never",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.askPass=true",
    "-c", "credential.helper=",
    "-c", "advice.detachedHead=false",
    "-c", "init.defaultBranch=main",
)


class GitSizeExceeded(Exception):
    """The directory a git command writes into grew beyond the allowed size."""


def git_env() -> dict[str, str]:
    """The environment for every git call: no prompts, no system config, C locale messages."""
    env = dict(os.environ)
    env.update({
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "true",
        "SSH_ASKPASS": "true",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
        "LC_ALL": "C",
        "LANG": "C",
    })
    # Variables that would override the transport allow-list above.
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_ALLOW_PROTOCOL", "GIT_PROTOCOL_FROM_USER"):
        env.pop(name, None)
    return env


def git_executable() -> str:
    """Path to git, or a SourceError saying how to get it."""
    path = shutil.which("git")
    if path is None:
        raise SourceError("git is not installed on this machine; install it (for example: apt-get install git).")
    return path


def dir_size(path: Path) -> int:
    """Bytes used by regular files under ``path`` (symlinks not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def run_git(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    watch: Path | None = None,
    max_bytes: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``git <hardening> <args>``; return the finished process (check returncode yourself).

    With ``watch`` and ``max_bytes`` the directory is measured while git runs and
    git is stopped as soon as it grows past the limit (:class:`GitSizeExceeded`),
    so an oversized repository never fills the disk. A timeout becomes a
    :class:`SourceError`.
    """
    command = [git_executable(), *_HARDENING, *args]
    process = subprocess.Popen(
        command, cwd=cwd, env=git_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                stdout, stderr = process.communicate(timeout=0.25 if watch is not None else max(0.0, deadline - time.monotonic()))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    raise SourceError(
                        f"git took longer than {timeout:.0f} seconds (git {args[0]}); the server may be slow "
                        "or the repository very large."
                    ) from None
                if watch is not None and max_bytes is not None and dir_size(watch) > max_bytes:
                    raise GitSizeExceeded() from None
    except BaseException:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


_GENERIC_LINES = (
    "could not read from remote repository",
    "please make sure you have the correct access rights",
    "and the repository exists",
)


def git_reason(stderr: str) -> str:
    """git's own one-line reason from its stderr, without git's generic boilerplate lines.

    Prefers the first ``fatal:``/``error:``/``ssh:`` line that says something
    specific; a line ending in ``:`` is joined with the next (git splits
    "unable to connect to host:" / "errno=Connection refused" over two lines).
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    useful = [line for line in lines if not any(g in line.lower() for g in _GENERIC_LINES)]
    if not useful:
        useful = lines
    if not useful:
        return "git failed without a message"
    pick = next((i for i, line in enumerate(useful) if line.startswith(("fatal:", "error:", "ssh:"))), 0)
    reason = useful[pick]
    if reason.endswith(":") and pick + 1 < len(useful):
        reason = f"{reason} {useful[pick + 1]}"
    for prefix in ("fatal:", "error:"):
        reason = reason.removeprefix(prefix).strip()
    return reason
