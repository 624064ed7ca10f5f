"""Download (and unpack) one file inside an image build, failing with a sentence a person
can act on: what could not be had, from which URL, and which setting points elsewhere.

Shipped into the build context by the ``julia`` and ``nix`` environment modules; runs
with Debian's python3 (stdlib only), so the image needs neither curl nor xz-utils.

    bindery_fetch.py URL DEST --what "Julia 1.10.9" --setting "[builder.modules.julia] download_url"
                     [--sha256 HEX] [--extract DIR --strip N] [--timeout S]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path


def fetch(url: str, dest: Path, timeout: float) -> str | None:
    """None when ``url`` was saved to ``dest``, else why not."""
    request = urllib.request.Request(url, headers={"User-Agent": "bindery-fetch"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, dest.open("wb") as out:
            shutil.copyfileobj(response, out)
    except urllib.error.HTTPError as exc:
        return f"{url} answered HTTP {exc.code} ({exc.reason})"
    except urllib.error.URLError as exc:
        return f"{url} could not be reached ({exc.reason})"
    except (OSError, ValueError) as exc:
        return f"{url} could not be reached ({exc})"
    return None


def extract(archive: Path, target: Path, strip: int) -> None:
    """Unpack ``archive`` into ``target`` without the first ``strip`` path parts."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = []
        for member in tar.getmembers():
            parts = Path(member.name).parts[strip:]
            if not parts:
                continue
            member.name = str(Path(*parts))
            members.append(member)
        if hasattr(tarfile, "tar_filter"):  # Python >= 3.11.4 (and security backports)
            tar.extractall(target, members=members, filter="tar")
        else:  # pragma: no cover - older Debian point releases
            tar.extractall(target, members=members)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("dest", type=Path)
    parser.add_argument("--what", required=True)
    parser.add_argument("--setting", required=True)
    parser.add_argument("--sha256", default="")
    parser.add_argument("--extract", type=Path)
    parser.add_argument("--strip", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv[1:])
    print(f"[bindery] downloading {args.what} from {args.url}", flush=True)
    problem = fetch(args.url, args.dest, args.timeout)
    if problem is not None:
        print(f"[bindery] ERROR: {args.what} could not be downloaded: {problem}. "
              f"Set {args.setting} to a mirror this build can reach", flush=True)
        return 1
    if args.sha256:
        digest = hashlib.sha256(args.dest.read_bytes()).hexdigest()
        if digest != args.sha256.lower():
            print(f"[bindery] ERROR: {args.what} from {args.url} has SHA-256 {digest}, "
                  f"expected {args.sha256}. Check {args.setting} and its checksum setting.",
                  flush=True)
            return 1
    if args.extract is not None:
        extract(args.dest, args.extract, args.strip)
        args.dest.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
