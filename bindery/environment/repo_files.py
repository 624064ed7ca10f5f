"""Where a repository keeps its configuration, and safe reading of those files.

mybinder.org convention: if ``binder/`` or ``.binder/`` exists, only the files in it
configure the environment (root files are ignored), so a repository can keep its
own ``requirements.txt`` for other purposes. Files are read only if they really
live inside the checkout: a symlink to ``/etc/...`` must never leak host files
into build logs or error messages.
"""

from __future__ import annotations

from pathlib import Path

from bindery.environment.errors import RepoConfigError

CONFIG_DIRS = ("binder", ".binder")
#: Files larger than this are not configuration; refuse instead of reading them.
MAX_CONFIG_BYTES = 1_000_000


def find_config_dir(repo_dir: Path) -> str:
    """ "binder", ".binder" or "" (the root); both directories at once is an error."""
    present = [name for name in CONFIG_DIRS if (repo_dir / name).is_dir()]
    if len(present) > 1:
        raise RepoConfigError(
            "The repository has both a binder/ and a .binder/ directory; Bindery cannot tell "
            "which one configures the environment. Keep only one of them."
        )
    return present[0] if present else ""


class ConfigFiles:
    """The configuration files of one checkout, seen through its config directory."""

    def __init__(self, repo_dir: Path) -> None:
        self.repo_dir = repo_dir
        self.config_dir = find_config_dir(repo_dir)
        self._root = repo_dir.resolve()

    def rel(self, name: str) -> str:
        """Path of ``name`` relative to the repository root ("binder/apt.txt")."""
        return f"{self.config_dir}/{name}" if self.config_dir else name

    def path(self, name: str) -> Path | None:
        """The file ``name`` in the config directory if it exists (and is a file)."""
        candidate = self.repo_dir / self.rel(name)
        if not candidate.is_file():
            return None
        if not candidate.resolve().is_relative_to(self._root):
            raise RepoConfigError(
                f"{self.rel(name)} is a link pointing outside the repository; "
                "configuration files must be part of the repository."
            )
        return candidate

    def has(self, name: str) -> bool:
        return self.path(name) is not None

    def read_text(self, name: str) -> str | None:
        """Text of ``name`` or None when absent; undecodable or huge files are errors."""
        path = self.path(name)
        if path is None:
            return None
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise RepoConfigError(
                f"{self.rel(name)} is larger than {MAX_CONFIG_BYTES // 1_000_000} MB; "
                "that is not a configuration file Bindery can use."
            )
        try:
            return path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RepoConfigError(
                f"{self.rel(name)} is not UTF-8 text (byte {exc.start} cannot be decoded)."
            ) from exc

    def root_has(self, name: str) -> bool:
        """Whether the repository root (not the config dir) holds ``name``."""
        return (self.repo_dir / name).is_file()
