"""HydroShare resources: ``hydroshare:<32-hex id>``, a resource URL or its DOI (``10.4211/hs.<id>``).

A resource is not immutable: its identity is the id plus its "modified" date from the
science-metadata API, so an edit gives a new image. Its files come as a BagIt zip,
whose ``data/contents/`` folder is what the author uploaded; only that is kept.
"""

from __future__ import annotations

import re
import shutil
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

from bindery.errors import SourceError, SpecError
from bindery.sources.base import DEFAULT_LINK_REF, LaunchProvider, LinkSpec, Ref
from bindery.sources.records import RecordFile, RecordSource, strip_doi_prefix

_ID = re.compile(r"([0-9a-f]{32})")
_DOI = re.compile(r"^10\.4211/hs\.([0-9a-f]{32})$", re.IGNORECASE)
_RESOURCE_URL = re.compile(r"^https?://(www\.)?hydroshare\.org/resource/([0-9a-f]{32})/?$")


@dataclass(frozen=True)
class HydroshareLinks(LaunchProvider):
    """``hydroshare/<resource id or URL-encoded resource URL>`` (BinderHub's grammar)."""

    def parse(self, spec: str) -> LinkSpec:
        text = unquote(spec.strip("/"))
        found = _ID.search(text)
        if found is None:
            raise SpecError(
                f"'{text[:100]}' does not name a HydroShare resource; give its 32-character id "
                "or its URL (https://www.hydroshare.org/resource/<id>/)."
            )
        resource = found.group(1)
        url = f"https://www.hydroshare.org/resource/{resource}/"
        return LinkSpec(resource, resource, f"hydroshare:{resource}", DEFAULT_LINK_REF, url)

    def spec_for(self, repository: str, ref: str) -> str:
        return repository.strip("/")


class HydroshareSource(RecordSource):
    """One HydroShare resource as last modified, through ``<base>/hsapi/``."""

    name: ClassVar[str] = "hydroshare"
    launch_provider: ClassVar[LaunchProvider | None] = HydroshareLinks(
        "hydroshare", "HydroShare resource", "HydroShare resource id or URL",
        "8f7c2f0341ef4180b0dbe97f59130756", has_ref=False, order=80,
        validate_regex="[^/]+", url_encode=True)
    base_url: str = "https://www.hydroshare.org"
    #: HydroShare redirects bag downloads to its object store.
    download_hosts: ClassVar[tuple[str, ...]] = ("s3.hydroshare.org",)
    #: Bags are zipped on demand; how long to wait for one, and how often to ask again.
    bag_wait: ClassVar[float] = 120.0
    bag_poll: ClassVar[float] = 10.0

    @classmethod
    def accepts(cls, spec: str) -> bool:
        if spec.startswith("hydroshare:"):
            return True
        return bool(_DOI.match(strip_doi_prefix(spec)) or _RESOURCE_URL.match(spec.strip()))

    def resource_id(self, spec: str) -> str:
        """The resource id the spec names (no I/O)."""
        body = strip_doi_prefix(spec.removeprefix("hydroshare:").strip())
        for pattern in (_DOI, _RESOURCE_URL):
            if match := pattern.match(body):
                return match.groups()[-1].lower()
        if re.fullmatch(r"[0-9a-f]{32}", body):
            return body
        raise SpecError(
            f"{spec[:100]!r} is not a HydroShare resource: expected hydroshare:<32-character id>, "
            "a resource URL or its DOI (10.4211/hs.<id>)."
        )

    def locate(self, spec: str) -> tuple[str, str, str]:
        resource = self.resource_id(spec)
        base = self.base_url.rstrip("/")
        meta = self.get_json(f"{base}/hsapi/resource/{resource}/scimeta/elements",
                             f"HydroShare resource {resource}")
        dates = meta.get("dates") if isinstance(meta, dict) else None
        modified = next((d.get("start_date") for d in dates or []
                         if isinstance(d, dict) and d.get("type") == "modified"), None)
        if not isinstance(modified, str):
            raise SourceError(f"HydroShare did not say when resource {resource} was last modified")
        try:
            stamp = datetime.strptime(modified.split(".")[0], "%Y-%m-%dT%H:%M:%S")
        except ValueError as exc:
            raise SourceError(f"HydroShare gave an unreadable date {modified!r} for {resource}") from exc
        version = int(stamp.replace(tzinfo=UTC).timestamp())
        return f"{base}/django_s3/download/bags/{resource}.zip", f"{resource}.v{version}", \
            f"hydroshare-{resource}"

    def files(self, api_url: str) -> list[RecordFile]:
        return [RecordFile(path=api_url.rsplit("/", 1)[-1], url=api_url)]

    def _fetch_into(self, ref: Ref, dest: Path, max_bytes: int | None) -> None:
        bag = RecordFile(path="bag.zip", url=ref.url)
        target = dest / "bag.zip"
        deadline = time.monotonic() + self.bag_wait
        with self._client(ref.url) as client:
            while True:
                self._download(client, bag, target, 0, max_bytes)
                if zipfile.is_zipfile(target):
                    break
                if time.monotonic() > deadline:
                    raise SourceError(
                        f"HydroShare is still preparing the files of {ref.resolved} after "
                        f"{self.bag_wait:.0f} s; try again later."
                    )
                time.sleep(self.bag_poll)
        unpacked = dest / ".bindery-bag"
        from bindery.sources.archive import extract_zip  # the one zip reader with its limits

        extract_zip(target, unpacked, max_bytes)
        target.unlink()
        contents = next(unpacked.glob("*/data/contents"), None) or unpacked / "data" / "contents"
        if not contents.is_dir():
            raise SourceError(f"the HydroShare bag of {ref.resolved} has no data/contents folder")
        for child in contents.iterdir():
            child.rename(dest / child.name)
        shutil.rmtree(unpacked)
