"""The ``Source`` contract (bindery/sources/base.py), checked on every registered source.

Parametrised over ``SOURCES.names()``: the built-ins of Bindery's pyproject.toml and
every installed plugin (the example distribution's ``example`` among them). What a
suite needs to know about one source (a spec in its syntax, specs it must refuse, a
repository it can fetch here) is in the tables below; a newly registered source
without an entry fails with a message saying which table to fill.

Fetching is exercised for every source that can be served from this machine: local
directories, git over file:// (the hosted shorthands with their base URL pointed at
file://), the DOI records against a fake API on 127.0.0.1, and the example plugin.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import pytest

from bindery.errors import SourceError, SpecError
from bindery.sources import find_source
from bindery.sources.base import DEFAULT_LINK_REF, SOURCES, LaunchProvider, Ref, Source

from .support import no_io, require_example_plugin

NAMES = SOURCES.names()
T = TypeVar("T")

#: One spec written in each source's syntax.
SAMPLES: dict[str, str] = {
    "local": "./some/checkout",
    "git": "https://example.org/group/repo.git",
    "gh": "gh:owner/repo",
    "gl": "gl:group/sub/project",
    "gist": "gist:someone/0123abcd",
    "zenodo": "zenodo:10.5281/zenodo.3242074",
    "figshare": "figshare:10.6084/m9.figshare.9782777.v1",
    "dataverse": "dataverse:10.7910/DVN/TJCLKP",
    "hydroshare": "hydroshare:8f7c2f0341ef4180b0dbe97f59130756",
    "ckan": "ckan:https://demo.ckan.org/dataset/my-sample-dataset-001",
    "example": "example:hello",
}

#: Specs each source must refuse with SpecError before contacting anything ("" for all).
MALFORMED: dict[str, list[str]] = {
    "local": ["-rf", "a\0b"],
    "git": ["https://", "ftp://example.org/x.git", "https://exa mple.org/r.git", "file://"],
    "gh": ["gh:", "gh:owner", "gh:own/er/repo", "gh:../repo", "gh:-x/repo", "gh:owner/repo@a..b"],
    "gl": ["gl:", "gl:project", "gl:group/../x"],
    "gist": ["gist:", "gist:someone", "gist:someone/not-hex!"],
    "zenodo": ["zenodo:", "zenodo:not-a-doi", "zenodo:../../etc"],
    "figshare": ["figshare:", "figshare:not-a-doi"],
    "dataverse": ["dataverse:", "dataverse:not-a-doi", "dataverse:10.7910/../x"],
    "hydroshare": ["hydroshare:", "hydroshare:not-an-id", "hydroshare:../../etc"],
    "ckan": ["ckan:", "ckan:https://demo.ckan.org/", "ckan:ftp://site/dataset/x", "ckan:/etc/passwd"],
    "example": ["example:", "example:Hello", "example:../x", "example:a/b"],
}

#: Written in no source's syntax (a local path is anything without ':', so these have one).
GARBAGE = ["::::", "¿qué?:::", "nonsense-kind-xyz:whatever", " : ", "http//:broken"]

#: Refs no source may accept (git would read them as options, ranges or paths).
BAD_REFS = ["bad ref", "../escape", "a..b", "x:y", "-n"]

#: Per link provider id: a repository as a person types it, and a ref.
LINK_SAMPLES: dict[str, tuple[str, str]] = {
    "gh": ("owner/repo", "feature/x"),
    "gl": ("group/sub/project", "main"),
    "gist": ("someone/0123abcd", "main"),
    "git": ("https://example.org/group/repo.git", "v1.0"),
    "zenodo": ("10.5281/zenodo.3242074", DEFAULT_LINK_REF),
    "figshare": ("10.6084/m9.figshare.9782777.v1", DEFAULT_LINK_REF),
    "dataverse": ("10.7910/DVN/TJCLKP", DEFAULT_LINK_REF),
    "hydroshare": ("8f7c2f0341ef4180b0dbe97f59130756", DEFAULT_LINK_REF),
    "ckan": ("https://demo.ckan.org/dataset/my-sample-dataset-001", DEFAULT_LINK_REF),
    "example": ("hello", "HEAD"),
}


def _entry(table: Mapping[str, T], name: str, table_name: str) -> T:
    if name not in table:
        pytest.fail(f"The source {name!r} is registered but has no entry in {table_name} of "
                    f"{__file__}: add one so the contract suite covers it.", pytrace=False)
    return table[name]


def test_the_example_plugin_source_is_registered() -> None:
    require_example_plugin()
    assert "example" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_constructed_without_arguments(name: str) -> None:
    """The builder fetches with ``SOURCES.load(ref.source)()``: a source needs no arguments."""
    assert isinstance(SOURCES.load(name)(), Source)


@pytest.mark.parametrize("name", NAMES)
def test_accepts_reads_only_the_syntax(name: str) -> None:
    cls = SOURCES.load(name)
    sample = _entry(SAMPLES, name, "SAMPLES")
    for spec in [sample, *GARBAGE]:
        cls.accepts(spec)  # a first call may import lazily; the checked one below may not
    with no_io(files=True):
        assert cls.accepts(sample) is True
        refused = [spec for spec in GARBAGE if cls.accepts(spec) is not False]
    assert refused == []
    # The registry's order gives the spec to this source, not an earlier catch-all.
    assert isinstance(find_source(sample), cls)


@pytest.mark.parametrize("name", NAMES)
def test_resolve_refuses_malformed_specs_before_contacting_anything(name: str) -> None:
    source = SOURCES.load(name)()
    for spec in ["", *_entry(MALFORMED, name, "MALFORMED")]:
        with no_io(), pytest.raises(SpecError) as refused:
            source.resolve(spec)
        assert str(refused.value).strip(), f"{name} refused {spec!r} without saying why"


@pytest.mark.parametrize("name", NAMES)
def test_resolve_refuses_malformed_refs_before_contacting_anything(name: str, tmp_path: Path) -> None:
    source = SOURCES.load(name)()
    spec = str(tmp_path) if name == "local" else _entry(SAMPLES, name, "SAMPLES")
    for ref in BAD_REFS:
        with no_io(), pytest.raises(SpecError):
            source.resolve(spec, ref)


# -- launch links ----------------------------------------------------------------------


def _providers() -> list[str]:
    return [name for name in NAMES if SOURCES.load(name).launch_provider is not None]


def test_no_two_sources_claim_one_link_provider() -> None:
    claimed: dict[str, str] = {}
    for name in _providers():
        provider = SOURCES.load(name).launch_provider
        assert provider is not None
        assert provider.id not in claimed, f"{name} and {claimed.get(provider.id)} both claim {provider.id!r}"
        claimed[provider.id] = name


@pytest.mark.parametrize("name", _providers())
def test_launch_provider_parses_what_it_writes(name: str) -> None:
    cls = SOURCES.load(name)
    provider = cls.launch_provider
    assert isinstance(provider, LaunchProvider)
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", provider.id), "the id is a path segment of links"
    assert provider.display_name and provider.repo_label and provider.placeholder
    repository, ref = _entry(LINK_SAMPLES, provider.id, "LINK_SAMPLES")
    with no_io(files=True):
        spec = provider.spec_for(repository, ref)
        link = provider.parse(spec)
        assert link.spec == spec, "spec_for writes the canonical form parse returns"
        assert provider.parse(link.spec) == link
        assert link.ref == (ref if provider.has_ref else DEFAULT_LINK_REF)
        assert link.repository and link.repo_url
        if provider.has_ref:
            pinned = provider.parse(f"{link.repository}/{'a' * 40}")  # binder_persistent_request
            assert (pinned.repository, pinned.ref) == (link.repository, "a" * 40)
    # The link's source spec goes to the source that declared the provider, and no other.
    assert isinstance(find_source(link.source_spec), cls)


@pytest.mark.parametrize("name", _providers())
def test_launch_provider_refuses_malformed_links_with_spec_error(name: str) -> None:
    provider = SOURCES.load(name).launch_provider
    assert provider is not None
    for spec in ["..", "%00", "a b c/../../..", "/"]:
        try:
            with no_io(files=True):
                link = provider.parse(spec)
        except SpecError:
            continue
        assert ".." not in link.repository.split("/"), f"{provider.id} accepted {spec!r}: {link}"


# -- fetching what can be served from this machine ------------------------------------

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent-bindery-test-home",
}
FILES = {"README.md": "# a repository\n\n" + "text " * 40 + "\n", "analysis.py": "print(6 * 7)\n"}
#: Smaller than every repository below: fetching must refuse it.
TINY_LIMIT = 16


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(["git", "-c", "init.defaultBranch=main", *args], cwd=cwd, env=GIT_ENV,
                   check=True, capture_output=True)


class _Records(BaseHTTPRequestHandler):
    """A fake Zenodo/Figshare/Dataverse API (JSON shaped like theirs) with the same files."""

    routes: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = self.routes.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        return None


@dataclass
class Served:
    """Where this module's repositories are: a base of bare git repos and a records API."""

    plain_dir: Path
    git_base: Path
    records_url: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("sources")
    plain = root / "plain"
    plain.mkdir()
    for rel, text in FILES.items():
        (plain / rel).write_text(text)
    work = root / "work"
    _git("init", "-q", str(work))
    for rel, text in FILES.items():
        (work / rel).write_text(text)
    _git("add", "-A", cwd=work)
    _git("commit", "-qm", "initial", cwd=work)
    base = root / "git"
    for path in ("repo.git", "owner/repo.git", "group/sub/project.git", "someone/0123abcd.git"):
        (base / path).parent.mkdir(parents=True, exist_ok=True)
        _git("clone", "-q", "--bare", str(work), str(base / path))

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Records)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    files = {name: text.encode() for name, text in FILES.items()}
    routes: dict[str, bytes] = {}
    for i, (name, data) in enumerate(files.items()):
        routes[f"/files/{name}"] = data
        routes[f"/api/access/datafile/{i}"] = data
    routes["/api/records/77"] = json.dumps({"id": 77, "files": [
        {"key": n, "size": len(d), "links": {"self": f"{url}/files/{n}"}} for n, d in files.items()
    ]}).encode()
    routes["/v2/articles/55"] = json.dumps({"id": 55, "version": 1}).encode()
    routes["/v2/articles/55/versions/1"] = json.dumps({"files": [
        {"name": n, "size": len(d), "download_url": f"{url}/files/{n}"} for n, d in files.items()
    ]}).encode()
    routes["/api/datasets/:persistentId/?persistentId=doi:10.7910/DVN/CONTRACT"] = json.dumps(
        {"status": "OK", "data": {"id": 9, "latestVersion": {"versionNumber": 1,
                                                             "versionMinorNumber": 0}}}).encode()
    routes["/api/datasets/9/versions/1.0"] = json.dumps({"status": "OK", "data": {"files": [
        {"dataFile": {"id": i, "filename": n, "filesize": len(d)}}
        for i, (n, d) in enumerate(files.items())
    ]}}).encode()
    # HydroShare: science metadata and a BagIt zip whose data/contents/ holds the files.
    hs = "8f7c2f0341ef4180b0dbe97f59130756"
    routes[f"/hsapi/resource/{hs}/scimeta/elements"] = json.dumps({"dates": [
        {"type": "created", "start_date": "2020-01-01T00:00:00.000000Z"},
        {"type": "modified", "start_date": "2021-02-03T04:05:06.123456Z"}]}).encode()
    bag = io.BytesIO()
    with zipfile.ZipFile(bag, "w") as zf:
        zf.writestr(f"{hs}/bagit.txt", "BagIt-Version: 0.97\n")
        zf.writestr(f"{hs}/data/resourcemetadata.xml", "<rdf/>")
        for name, data in files.items():
            zf.writestr(f"{hs}/data/contents/{name}", data)
    routes[f"/django_s3/download/bags/{hs}.zip"] = bag.getvalue()
    # CKAN: the action API of a site, resources uploaded to the site itself.
    routes["/api/3/action/status_show"] = json.dumps({"success": True, "result": {}}).encode()
    routes["/api/3/action/package_show?id=contract-data"] = json.dumps({"success": True, "result": {
        "metadata_modified": "2022-05-06T07:08:09.123456",
        "resources": [{"id": f"r{i}", "url": f"{url}/files/{n}", "size": len(d)}
                      for i, (n, d) in enumerate(files.items())]}}).encode()
    _Records.routes = routes
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Served(plain, base, url)
    server.shutdown()
    server.server_close()


#: How to make each source serve a repository from this machine: (source, spec).
FETCHABLE: dict[str, Callable[[type[Source], Served], tuple[Source, str]]] = {
    "local": lambda cls, s: (cls(), str(s.plain_dir)),
    "git": lambda cls, s: (cls(), (s.git_base / "repo.git").as_uri()),
    "gh": lambda cls, s: (cls(base_url=s.git_base.as_uri()), "gh:owner/repo"),  # type: ignore[call-arg]
    "gl": lambda cls, s: (cls(base_url=s.git_base.as_uri()), "gl:group/sub/project"),  # type: ignore[call-arg]
    "gist": lambda cls, s: (cls(base_url=s.git_base.as_uri()), "gist:someone/0123abcd"),  # type: ignore[call-arg]
    "zenodo": lambda cls, s: (cls(base_url=s.records_url), "zenodo:10.5281/zenodo.77"),  # type: ignore[call-arg]
    "figshare": lambda cls, s: (cls(base_url=s.records_url), "figshare:10.6084/m9.figshare.55"),  # type: ignore[call-arg]
    "dataverse": lambda cls, s: (cls(base_url=s.records_url), "dataverse:10.7910/DVN/CONTRACT"),  # type: ignore[call-arg]
    "hydroshare": lambda cls, s: (cls(base_url=s.records_url), "hydroshare:8f7c2f0341ef4180b0dbe97f59130756"),  # type: ignore[call-arg]
    "ckan": lambda cls, s: (cls(), f"ckan:{s.records_url}/dataset/contract-data"),
    "example": lambda cls, s: (cls(), "example:hello"),
}


def _resolved(name: str, served: Served) -> tuple[Source, Ref]:
    make = _entry(FETCHABLE, name, "FETCHABLE")
    source, spec = make(SOURCES.load(name), served)
    return source, source.resolve(spec)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


@pytest.mark.parametrize("name", NAMES)
def test_resolve_pins_and_fetch_materialises_exactly_that(name: str, served: Served,
                                                          tmp_path: Path) -> None:
    source, ref = _resolved(name, served)
    assert ref.source == name and ref.resolved and ref.url
    again = _resolved(name, served)[1]
    assert again == ref, "resolving the same unchanged repository twice gives the same Ref"
    # The builder fetches with a fresh instance made without arguments: the Ref carries it all.
    fresh = SOURCES.load(ref.source)()
    first = fresh.fetch(ref, tmp_path / "first", max_bytes=10_000_000)
    (tmp_path / "second").mkdir()
    second = SOURCES.load(ref.source)().fetch(ref, tmp_path / "second")
    assert first == tmp_path / "first" and second == tmp_path / "second"
    assert _tree(first) and _tree(first) == _tree(second)


@pytest.mark.parametrize("name", NAMES)
def test_fetch_into_a_non_empty_directory_is_refused_and_leaves_it_alone(
        name: str, served: Served, tmp_path: Path) -> None:
    _, ref = _resolved(name, served)
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "mine.txt").write_text("not yours")
    with pytest.raises(SourceError):
        SOURCES.load(ref.source)().fetch(ref, dest)
    assert _tree(dest) == {"mine.txt": b"not yours"}


@pytest.mark.parametrize("dest_exists", [False, True], ids=["new-dir", "empty-dir"])
@pytest.mark.parametrize("name", NAMES)
def test_fetch_beyond_max_bytes_is_refused_and_leaves_nothing(
        name: str, dest_exists: bool, served: Served, tmp_path: Path) -> None:
    _, ref = _resolved(name, served)
    dest = tmp_path / "limited"
    if dest_exists:
        dest.mkdir()
    with pytest.raises(SourceError, match="limit"):
        SOURCES.load(ref.source)().fetch(ref, dest, max_bytes=TINY_LIMIT)
    assert not dest.exists() or list(dest.iterdir()) == []
