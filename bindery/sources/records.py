"""Shared machinery for DOI record sources (Zenodo, Figshare, Dataverse).

A published record is immutable, so its identity is the record's own id and
version. The user gives no ref. Files are downloaded over HTTP(S) from the
record's host (and a few download hosts the service is known to use), never
from any other address the metadata might name. A record holding just one zip
is unpacked, as repo2docker does.
"""

from __future__ import annotations

import re
import shutil
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import Field

from bindery.errors import SourceError, SpecError
from bindery.plugins import PluginOptions
from bindery.sources.archive import _safe_member_path, extract_zip, strip_single_top_dir
from bindery.sources.base import Ref, Source

DEFAULT_MAX_BYTES = 1_000_000_000
_DOI_URL = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)", re.IGNORECASE)


def strip_doi_prefix(text: str) -> str:
    """``https://doi.org/10.x/y`` / ``doi:10.x/y`` → ``10.x/y``."""
    return _DOI_URL.sub("", text.strip())


@dataclass(frozen=True)
class RecordFile:
    """One file of a record: where to save it (relative path) and where to download it."""

    path: str
    url: str
    size: int | None = None


class RecordOptions(PluginOptions):
    """``[sources.zenodo]`` and the like: which service, and how patient to be."""

    #: The service's base URL, e.g. a Zenodo sandbox or an institution's Dataverse
    #: ("" = the public service).
    base_url: str = ""
    #: Seconds one API request or download may take.
    timeout: float = Field(default=60.0, gt=0)


class RecordSource(Source):
    """A source whose specs name an immutable record in a JSON API."""

    #: The service's base URL (overridable per instance, e.g. a test server on 127.0.0.1).
    base_url: str
    #: Hosts besides the record's own that files may be downloaded from.
    download_hosts: ClassVar[tuple[str, ...]] = ()
    timeout: float = 60.0

    options_model: ClassVar[type[PluginOptions]] = RecordOptions

    def __init__(self, base_url: str | None = None, timeout: float | None = None) -> None:
        if base_url is not None:
            self.base_url = base_url
        if timeout is not None:
            self.timeout = timeout

    @classmethod
    def from_options(cls, options: PluginOptions) -> Source:
        if not isinstance(options, RecordOptions):
            return cls()
        return cls(base_url=options.base_url.rstrip("/") or None, timeout=options.timeout)

    # -- what subclasses provide -------------------------------------------------

    @abstractmethod
    def locate(self, spec: str) -> tuple[str, str, str]:
        """``(api_url, resolved, display_name)`` for the spec (may ask the API)."""

    @abstractmethod
    def files(self, api_url: str) -> list[RecordFile]:
        """The files of the exact record version at ``api_url``."""

    # -- Source ------------------------------------------------------------------

    def resolve(self, spec: str, ref: str | None = None) -> Ref:
        if ref not in (None, "", "HEAD"):
            raise SpecError(
                f"{self.name} records cannot be changed after they are published, so they have no "
                f"branches or tags: leave out the ref ({ref!r})."
            )
        api_url, resolved, display_name = self.locate(spec)
        return Ref(source=self.name, url=api_url, resolved=resolved, requested=None, display_name=display_name)

    def fetch(self, ref: Ref, dest: Path, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Path:
        dest = Path(dest)
        existed = dest.exists()
        if existed and any(dest.iterdir()):
            raise SourceError(f"cannot fetch into {dest}: the directory is not empty")
        dest.mkdir(parents=True, exist_ok=True)
        try:
            self._fetch_into(ref, dest, max_bytes)
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            if existed:
                dest.mkdir(parents=True, exist_ok=True)
            raise
        return dest

    def _fetch_into(self, ref: Ref, dest: Path, max_bytes: int | None) -> None:
        files = self.files(ref.url)
        if not files:
            raise SourceError(f"the {self.name} record {ref.resolved} has no files to build from")
        declared = sum(f.size or 0 for f in files)
        if max_bytes is not None and declared > max_bytes:
            raise SourceError(f"repository is larger than the limit of {max_bytes / 1e6:g} MB ({ref.url})")
        root = dest.resolve()
        used = 0
        with self._client(ref.url) as client:
            for item in files:
                target = (root / _safe_member_path(item.path)).resolve()
                if not target.is_relative_to(root) or target == root:
                    raise SourceError(f"the record names an unsafe file path {item.path!r}")
                target.parent.mkdir(parents=True, exist_ok=True)
                used = self._download(client, item, target, used, max_bytes)
        if len(files) == 1 and files[0].path.lower().endswith(".zip"):
            archive = root / _safe_member_path(files[0].path)
            unpacked = root / ".bindery-unpacked"
            unpacked.mkdir()
            extract_zip(archive, unpacked, max_bytes)
            archive.unlink()
            strip_single_top_dir(unpacked)
            for child in unpacked.iterdir():
                child.rename(root / child.name)
            unpacked.rmdir()

    def _download(self, client: httpx.Client, item: RecordFile, target: Path, used: int,
                  max_bytes: int | None) -> int:
        try:
            with client.stream("GET", item.url) as response:
                if response.status_code != 200:
                    raise SourceError(f"downloading {item.path} failed: HTTP {response.status_code} from {item.url}")
                with target.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 16):
                        used += len(chunk)
                        if max_bytes is not None and used > max_bytes:
                            raise SourceError(f"repository is larger than the limit of {max_bytes / 1e6:g} MB")
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise SourceError(f"could not download {item.path} from {urlsplit(item.url).netloc}: {exc}") from exc
        return used

    # -- HTTP --------------------------------------------------------------------

    def _client(self, origin_url: str) -> httpx.Client:
        """An httpx client that refuses to talk to any host but the record's own and known download hosts."""
        allowed = {urlsplit(origin_url).netloc.lower(), *self.download_hosts}

        def only_allowed_hosts(request: httpx.Request) -> None:
            host = request.url.netloc.decode().lower()
            if request.url.scheme not in ("http", "https") or host not in allowed:
                raise SourceError(
                    f"the {self.name} record points to {request.url.scheme}://{host}, which is not "
                    f"{self.name}'s own server; the file was not downloaded"
                )

        return httpx.Client(timeout=self.timeout, follow_redirects=True, trust_env=False,
                            event_hooks={"request": [only_allowed_hosts]},
                            headers={"User-Agent": "bindery"})

    def get_json(self, url: str, what: str) -> Any:
        """GET ``url`` as JSON; 404 and network failures become errors a person understands."""
        try:
            with self._client(url) as client:
                response = client.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise SourceError(f"could not reach {urlsplit(url).netloc}: {exc}") from exc
        if response.status_code in (404, 410):
            raise SourceError(f"{what} not found on {urlsplit(url).netloc} (HTTP {response.status_code})")
        if response.status_code != 200:
            raise SourceError(f"{urlsplit(url).netloc} answered HTTP {response.status_code} for {what}")
        try:
            return response.json()
        except ValueError as exc:
            raise SourceError(f"{urlsplit(url).netloc} did not answer with JSON for {what}") from exc
