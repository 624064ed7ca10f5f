"""CKAN datasets: ``ckan:https://<ckan site>/dataset/<name>`` (optionally one revision:
``.../dataset/<name>/history/<activity id>`` or ``?activity_id=<id>``).

Any CKAN site works, so the spec names its own host: a public binder checks that host
like a git URL's. The dataset's identity is its name plus ``metadata_modified`` (or the
activity id), and its resources are downloaded only from the CKAN site itself —
resources that link elsewhere are refused by name rather than fetched from anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from bindery.errors import SourceError, SpecError
from bindery.sources.base import DEFAULT_LINK_REF, LaunchProvider, LinkSpec
from bindery.sources.records import RecordFile, RecordSource


def _dataset_parts(url: str) -> tuple[str, str, str | None]:
    """(API base ending in ``/api/3/action/``, dataset name, activity id or None)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "/dataset/" not in parts.path:
        raise SpecError(
            f"{url[:100]!r} is not a CKAN dataset URL; expected https://<site>/dataset/<name>."
        )
    prefix, _, rest = parts.path.partition("/dataset/")
    segments = [s for s in rest.split("/") if s]
    if not segments:
        raise SpecError(f"{url[:100]!r} names no dataset after /dataset/.")
    activity = None
    if "history" in segments and segments.index("history") + 1 < len(segments):
        activity = segments[segments.index("history") + 1]
    elif ids := parse_qs(parts.query).get("activity_id"):
        activity = ids[0]
    api = f"{parts.scheme}://{parts.netloc}{prefix}/api/3/action/"
    return api, segments[0], activity


@dataclass(frozen=True)
class CkanLinks(LaunchProvider):
    """``ckan/<URL-encoded dataset URL>`` (BinderHub's grammar)."""

    def parse(self, spec: str) -> LinkSpec:
        url = unquote(spec.strip("/"))
        _dataset_parts(url)
        return LinkSpec(quote(url, safe=""), quote(url, safe=""), f"ckan:{url}", DEFAULT_LINK_REF,
                        url, names_host=True, host_url=url)

    def spec_for(self, repository: str, ref: str) -> str:
        return quote(repository.strip(), safe="")


class CkanSource(RecordSource):
    """One CKAN dataset revision, through the site's action API."""

    name: ClassVar[str] = "ckan"
    launch_provider: ClassVar[LaunchProvider | None] = CkanLinks(
        "ckan", "CKAN dataset", "CKAN dataset URL",
        "https://demo.ckan.org/dataset/my-sample-dataset-001", has_ref=False, order=90,
        validate_regex="[^/]+", url_encode=True)
    #: Unused: the site is part of each spec.
    base_url: str = ""

    @classmethod
    def accepts(cls, spec: str) -> bool:
        return spec.startswith("ckan:")

    def locate(self, spec: str) -> tuple[str, str, str]:
        url = spec.removeprefix("ckan:").strip()
        api, dataset, activity = _dataset_parts(url)
        status = self.get_json(f"{api}status_show", f"the CKAN site at {urlsplit(api).netloc}")
        if not (isinstance(status, dict) and status.get("success")):
            raise SourceError(f"{urlsplit(api).netloc} does not answer as a CKAN site")
        if activity:
            fetch = f"{api}activity_data_show?" + urlencode({"id": activity, "object_type": "package"})
            return fetch, f"{dataset}.a{activity}", f"ckan-{dataset}"
        shown = self.get_json(f"{api}package_show?" + urlencode({"id": dataset}),
                              f"CKAN dataset {dataset}")
        modified = (shown.get("result") or {}).get("metadata_modified") if isinstance(shown, dict) else None
        if not isinstance(modified, str):
            raise SourceError(f"CKAN did not say when dataset {dataset} was last modified")
        try:
            stamp = datetime.fromisoformat(modified.split(".")[0]).replace(tzinfo=UTC)
        except ValueError as exc:
            raise SourceError(f"CKAN gave an unreadable date {modified!r} for {dataset}") from exc
        fetch = f"{api}package_show?" + urlencode({"id": dataset})
        return fetch, f"{dataset}.v{int(stamp.timestamp())}", f"ckan-{dataset}"

    def files(self, api_url: str) -> list[RecordFile]:
        data = self.get_json(api_url, "CKAN dataset")
        resources = (data.get("result") or {}).get("resources") if isinstance(data, dict) else None
        result = []
        for resource in resources or []:
            url = resource.get("url") or ""
            if not url:
                continue
            name = url.rstrip("/").rsplit("/", 1)[-1] or str(resource.get("id", ""))
            if not name:
                raise SourceError("CKAN listed a resource without a file name or id")
            result.append(RecordFile(path=name, url=url, size=resource.get("size")))
        return result
