"""Zenodo records: ``zenodo:10.5281/zenodo.1234``, ``doi:10.5281/zenodo.1234``, ``https://zenodo.org/records/1234``."""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlsplit

from bindery.errors import SourceError, SpecError
from bindery.sources.base import LaunchProvider
from bindery.sources.links import DoiLinks
from bindery.sources.records import RecordFile, RecordSource, strip_doi_prefix

_ZENODO_DOI = re.compile(r"^10\.5281/zenodo\.(\d{1,12})$", re.IGNORECASE)
_RECORD_URL = re.compile(r"^/records?/(\d{1,12})/?$")


class ZenodoSource(RecordSource):
    """One Zenodo record version, through ``<base>/api/records/<id>``."""

    name: ClassVar[str] = "zenodo"
    launch_provider: ClassVar[LaunchProvider | None] = DoiLinks(
        "zenodo", "Zenodo DOI", "Zenodo DOI (10.5281/zenodo.3242074)",
        "10.5281/zenodo.3242074", order=50)
    base_url: str = "https://zenodo.org"

    @classmethod
    def accepts(cls, spec: str) -> bool:
        if spec.startswith("zenodo:"):
            return True
        if _ZENODO_DOI.match(strip_doi_prefix(spec)):
            return True
        parts = urlsplit(spec)
        return parts.scheme in ("http", "https") and parts.netloc.lower() in ("zenodo.org", "www.zenodo.org") \
            and bool(_RECORD_URL.match(parts.path))

    def record_id(self, spec: str) -> str:
        """The numeric record id the spec names (no I/O)."""
        body = spec.removeprefix("zenodo:")
        body = strip_doi_prefix(body)
        if body.isdigit() and len(body) <= 12:
            return body
        match = _ZENODO_DOI.match(body)
        if match:
            return match.group(1)
        parts = urlsplit(body)
        if parts.scheme in ("http", "https") and (url_match := _RECORD_URL.match(parts.path)):
            return url_match.group(1)
        raise SpecError(f"{spec[:100]!r} is not a Zenodo record: expected zenodo:10.5281/zenodo.1234 or a record id.")

    def locate(self, spec: str) -> tuple[str, str, str]:
        record = self.record_id(spec)
        url = f"{self.base_url.rstrip('/')}/api/records/{record}"
        data = self.get_json(url, f"Zenodo record {record}")
        # A concept DOI answers with its latest version: pin that version's own id.
        exact = str(data.get("id", record)) if isinstance(data, dict) else record
        if not exact.isdigit():
            raise SourceError(f"Zenodo answered with an unexpected record id for {record}")
        return f"{self.base_url.rstrip('/')}/api/records/{exact}", exact, f"zenodo-{exact}"

    def files(self, api_url: str) -> list[RecordFile]:
        data = self.get_json(api_url, "Zenodo record")
        entries = data.get("files") if isinstance(data, dict) else None
        if isinstance(entries, dict):  # newer API: {"entries": {...}}
            entries = list(entries.get("entries", {}).values())
        result = []
        for entry in entries or []:
            links = entry.get("links") or {}
            name = entry.get("key") or entry.get("filename")
            url = links.get("self") or links.get("download") or links.get("content")
            if not name or not url:
                raise SourceError("Zenodo listed a file without a name or download link")
            result.append(RecordFile(path=name, url=url, size=entry.get("size") or entry.get("filesize")))
        return result
