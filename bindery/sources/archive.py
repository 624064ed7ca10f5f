"""Unpacking downloaded archives without letting them write outside the destination.

A zip entry named ``../../home/user/.bashrc`` or ``/etc/passwd``, or a symlink
entry, would otherwise write wherever its name points. Every entry is checked
before anything is extracted, and the total unpacked size is checked against the
limit first (zip bombs).
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from bindery.errors import SourceError


def _safe_member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    first = path.parts[0] if path.parts else ""
    if not path.parts or path.is_absolute() or ".." in path.parts or ":" in first:
        raise SourceError(f"the archive contains an unsafe path {name!r}; it was not unpacked")
    return path


def extract_zip(archive: Path, dest: Path, max_bytes: int | None) -> None:
    """Unpack ``archive`` into ``dest``; refuse traversal, symlinks and oversize before writing."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{archive.name} is not a valid zip archive") from exc
    with zf:
        members = zf.infolist()
        total = 0
        for info in members:
            _safe_member_path(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise SourceError(f"the archive contains a symbolic link {info.filename!r}; it was not unpacked")
            total += info.file_size
        if max_bytes is not None and total > max_bytes:
            raise SourceError(f"repository is larger than the limit of {max_bytes / 1e6:g} MB (unpacked archive)")
        root = dest.resolve()
        for info in members:
            target = (root / _safe_member_path(info.filename)).resolve()
            if not target.is_relative_to(root):
                raise SourceError(f"the archive contains an unsafe path {info.filename!r}; it was not unpacked")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)


def strip_single_top_dir(dest: Path) -> None:
    """Archives often wrap everything in one folder (``repo-1.0/``); move its content up."""
    entries = list(dest.iterdir())
    if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
        return
    top = entries[0]
    holding = dest / f".bindery-unwrap-{top.name}"
    top.rename(holding)
    for child in holding.iterdir():
        child.rename(dest / child.name)
    holding.rmdir()
