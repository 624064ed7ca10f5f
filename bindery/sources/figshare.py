"""Figshare articles: ``figshare:10.6084/m9.figshare.9782777.v1`` (version optional: latest)."""

from __future__ import annotations

import re
from typing import ClassVar

from bindery.errors import SourceError, SpecError
from bindery.sources.base import LaunchProvider
from bindery.sources.links import DoiLinks
from bindery.sources.records import RecordFile, RecordSource, strip_doi_prefix

_FIGSHARE_DOI = re.compile(r"^10\.6084/m9\.figshare\.(\d{1,12})(?:\.v(\d{1,6}))?$", re.IGNORECASE)


class FigshareSource(RecordSource):
    """One Figshare article version, through ``<base>/v2/articles/<id>/versions/<v>``."""

    name: ClassVar[str] = "figshare"
    launch_provider: ClassVar[LaunchProvider | None] = DoiLinks(
        "figshare", "Figshare DOI", "Figshare DOI (10.6084/m9.figshare.9782777.v1)",
        "10.6084/m9.figshare.9782777.v1", order=60)
    base_url: str = "https://api.figshare.com"
    download_hosts: ClassVar[tuple[str, ...]] = ("ndownloader.figshare.com", "figshare.com")

    @classmethod
    def accepts(cls, spec: str) -> bool:
        return spec.startswith("figshare:") or bool(_FIGSHARE_DOI.match(strip_doi_prefix(spec)))

    def article(self, spec: str) -> tuple[str, str | None]:
        body = strip_doi_prefix(spec.removeprefix("figshare:"))
        match = _FIGSHARE_DOI.match(body)
        if not match:
            raise SpecError(
                f"{spec[:100]!r} is not a Figshare article: expected figshare:10.6084/m9.figshare.9782777.v1."
            )
        return match.group(1), match.group(2)

    def locate(self, spec: str) -> tuple[str, str, str]:
        article, version = self.article(spec)
        base = self.base_url.rstrip("/")
        if version is None:
            data = self.get_json(f"{base}/v2/articles/{article}", f"Figshare article {article}")
            version = str(data.get("version", "")) if isinstance(data, dict) else ""
            if not version.isdigit():
                raise SourceError(f"Figshare did not say which version of article {article} is the latest")
        api_url = f"{base}/v2/articles/{article}/versions/{version}"
        self.get_json(api_url, f"Figshare article {article} version {version}")
        return api_url, f"{article}.v{version}", f"figshare-{article}"

    def files(self, api_url: str) -> list[RecordFile]:
        data = self.get_json(api_url, "Figshare article")
        result = []
        for entry in (data.get("files") if isinstance(data, dict) else None) or []:
            if entry.get("is_link_only"):
                continue
            if not entry.get("name") or not entry.get("download_url"):
                raise SourceError("Figshare listed a file without a name or download link")
            result.append(RecordFile(path=entry["name"], url=entry["download_url"], size=entry.get("size")))
        return result
