"""Dataverse datasets: ``dataverse:10.7910/DVN/TJCLKP`` on one configured installation."""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import quote, urlsplit

from bindery.errors import SourceError, SpecError
from bindery.sources.base import LaunchProvider
from bindery.sources.links import DoiLinks
from bindery.sources.records import RecordFile, RecordSource, strip_doi_prefix

_DOI = re.compile(r"^10\.\d{4,9}/[A-Za-z0-9._;()/:-]+$")
_HARVARD_DOI = re.compile(r"^10\.7910/DVN/[A-Za-z0-9]+$", re.IGNORECASE)


class DataverseSource(RecordSource):
    """The latest *published* version of a dataset, pinned as ``<dataset id>-v<major>.<minor>``."""

    name: ClassVar[str] = "dataverse"
    launch_provider: ClassVar[LaunchProvider | None] = DoiLinks(
        "dataverse", "Dataverse DOI", "Dataverse DOI (10.7910/DVN/TJCLKP)",
        "10.7910/DVN/TJCLKP", order=70)
    base_url: str = "https://dataverse.harvard.edu"

    @classmethod
    def accepts(cls, spec: str) -> bool:
        return spec.startswith("dataverse:") or bool(_HARVARD_DOI.match(strip_doi_prefix(spec)))

    def doi(self, spec: str) -> str:
        body = strip_doi_prefix(spec.removeprefix("dataverse:"))
        if not _DOI.match(body) or ".." in body:
            raise SpecError(f"{spec[:100]!r} is not a Dataverse DOI: expected dataverse:10.7910/DVN/TJCLKP.")
        return body

    def locate(self, spec: str) -> tuple[str, str, str]:
        doi = self.doi(spec)
        base = self.base_url.rstrip("/")
        url = f"{base}/api/datasets/:persistentId/?persistentId={quote('doi:' + doi, safe=':/')}"
        data = (self.get_json(url, f"Dataverse dataset {doi}") or {}).get("data") or {}
        version = data.get("latestVersion") or {}
        major, minor, dataset = version.get("versionNumber"), version.get("versionMinorNumber"), data.get("id")
        if dataset is None or major is None or minor is None:
            raise SourceError(f"Dataverse dataset {doi} has no published version to build")
        api_url = f"{base}/api/datasets/{int(dataset)}/versions/{int(major)}.{int(minor)}"
        return api_url, f"{int(dataset)}-v{int(major)}.{int(minor)}", f"dataverse-{doi.rsplit('/', 1)[-1]}"

    def files(self, api_url: str) -> list[RecordFile]:
        data = (self.get_json(api_url, "Dataverse dataset version") or {}).get("data") or {}
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(api_url))
        result = []
        for entry in data.get("files") or []:
            datafile = entry.get("dataFile") or {}
            name, file_id = datafile.get("filename"), datafile.get("id")
            if not name or file_id is None:
                raise SourceError("Dataverse listed a file without a name or id")
            folder = (entry.get("directoryLabel") or "").strip("/")
            result.append(RecordFile(path=f"{folder}/{name}" if folder else name,
                                     url=f"{origin}/api/access/datafile/{int(file_id)}",
                                     size=datafile.get("filesize")))
        return result
