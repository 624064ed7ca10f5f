"""DOI record sources against a fake Zenodo/Figshare/Dataverse API on 127.0.0.1.

The real services are not reachable from here, so a small local HTTP server
answers with JSON shaped like theirs (fake: named so in every test) and serves
the files, including hostile zip archives.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bindery.errors import SourceError, SpecError
from bindery.sources import find_source
from bindery.sources.dataverse import DataverseSource
from bindery.sources.figshare import FigshareSource
from bindery.sources.zenodo import ZenodoSource


def make_zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    return buffer.getvalue()


class FakeRecords:
    """Routes: path → (status, content type, body). Tests add routes; the server reads them."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        self.base = ""

    def json(self, path: str, data: object, status: int = 200) -> None:
        self.routes[path] = (status, "application/json", json.dumps(data).encode())

    def file(self, path: str, data: bytes) -> None:
        self.routes[path] = (200, "application/octet-stream", data)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeRecords]:
    records = FakeRecords()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, ctype, body = records.routes.get(self.path, (404, "application/json", b'{"status": 404}'))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    records.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield records
    server.shutdown()
    server.server_close()


def zenodo_record(fake: FakeRecords, record: int, files: dict[str, bytes]) -> None:
    fake.json(f"/api/records/{record}", {"id": record, "files": [
        {"key": name, "size": len(data), "links": {"self": f"{fake.base}/files/{record}/{name}"}}
        for name, data in files.items()]})
    for name, data in files.items():
        fake.file(f"/files/{record}/{name}", data)


def test_fake_zenodo_single_zip_is_unpacked_without_its_top_folder(fake: FakeRecords, tmp_path: Path) -> None:
    zenodo_record(fake, 1001, {"repo-1.0.zip": make_zip({
        "repo-1.0/requirements.txt": b"numpy\n", "repo-1.0/notebooks/a.ipynb": b"{}"})})
    source = ZenodoSource(base_url=fake.base)
    ref = source.resolve("zenodo:10.5281/zenodo.1001")
    assert (ref.source, ref.resolved, ref.display_name) == ("zenodo", "1001", "zenodo-1001")
    dest = ZenodoSource().fetch(ref, tmp_path / "z")  # a fresh instance, as the builder makes
    assert (dest / "requirements.txt").read_text() == "numpy\n"
    assert (dest / "notebooks" / "a.ipynb").exists()
    assert sorted(p.name for p in dest.iterdir()) == ["notebooks", "requirements.txt"]


def test_fake_zenodo_concept_doi_pins_the_latest_version(fake: FakeRecords) -> None:
    zenodo_record(fake, 1003, {"environment.yml": b"dependencies: []\n"})
    fake.json("/api/records/1002", {"id": 1003, "files": []})  # what a concept record answers
    assert ZenodoSource(base_url=fake.base).resolve("https://doi.org/10.5281/zenodo.1002").resolved == "1003"


def test_fake_zenodo_plain_files(fake: FakeRecords, tmp_path: Path) -> None:
    zenodo_record(fake, 1004, {"requirements.txt": b"pandas\n", "analysis.py": b"print(1)\n"})
    source = ZenodoSource(base_url=fake.base)
    dest = source.fetch(source.resolve("doi:10.5281/zenodo.1004"), tmp_path / "p")
    assert sorted(p.name for p in dest.iterdir()) == ["analysis.py", "requirements.txt"]


@pytest.mark.parametrize("evil", ["../escaped.txt", "/tmp/abs-{u}.txt", "a/../../escaped.txt"])
def test_fake_zenodo_zip_path_traversal_is_refused(fake: FakeRecords, tmp_path: Path, evil: str) -> None:
    name = evil.format(u=uuid.uuid4().hex)
    zenodo_record(fake, 1005, {"evil.zip": make_zip({"ok.txt": b"ok", name: b"pwned"})})
    source = ZenodoSource(base_url=fake.base)
    dest = tmp_path / "sub" / "dest"
    with pytest.raises(SourceError, match="unsafe path"):
        source.fetch(source.resolve("zenodo:1005"), dest)
    assert not dest.exists()
    assert not (tmp_path / "sub" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert not Path(name).is_absolute() or not Path(name).exists()


def test_fake_zenodo_zip_symlink_is_refused(fake: FakeRecords, tmp_path: Path) -> None:
    zenodo_record(fake, 1006, {"link.zip": make_zip({"ok.txt": b"ok"}, symlink="passwd")})
    source = ZenodoSource(base_url=fake.base)
    with pytest.raises(SourceError, match="symbolic link"):
        source.fetch(source.resolve("zenodo:1006"), tmp_path / "d")


def test_fake_zenodo_zip_bomb_and_oversized_files(fake: FakeRecords, tmp_path: Path) -> None:
    zenodo_record(fake, 1007, {"bomb.zip": make_zip({"zeros.bin": b"\0" * 2_000_000})})
    source = ZenodoSource(base_url=fake.base)
    with pytest.raises(SourceError, match="larger than the limit of 1 MB"):
        source.fetch(source.resolve("zenodo:1007"), tmp_path / "b", max_bytes=1_000_000)
    zenodo_record(fake, 1008, {"big.bin": b"x" * 50_000})
    with pytest.raises(SourceError, match="larger than the limit"):
        source.fetch(source.resolve("zenodo:1008"), tmp_path / "c", max_bytes=10_000)
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_fake_zenodo_download_link_to_another_host_is_refused(fake: FakeRecords, tmp_path: Path) -> None:
    fake.json("/api/records/1009", {"id": 1009, "files": [
        {"key": "x.txt", "links": {"self": "http://localhost:9/internal-secret"}}]})
    source = ZenodoSource(base_url=fake.base)
    with pytest.raises(SourceError, match="not zenodo's own server"):
        source.fetch(source.resolve("zenodo:1009"), tmp_path / "d")


def test_fake_zenodo_missing_record_and_unreachable(fake: FakeRecords, closed_port: int) -> None:
    with pytest.raises(SourceError, match="Zenodo record 999999 not found"):
        ZenodoSource(base_url=fake.base).resolve("zenodo:999999")
    with pytest.raises(SourceError, match=f"could not reach 127.0.0.1:{closed_port}"):
        ZenodoSource(base_url=f"http://127.0.0.1:{closed_port}").resolve("zenodo:1")


def test_fake_zenodo_refuses_a_ref_and_bad_ids(fake: FakeRecords) -> None:
    with pytest.raises(SpecError, match="leave out the ref"):
        ZenodoSource(base_url=fake.base).resolve("zenodo:1004", "main")
    for spec in ("zenodo:../../etc", "zenodo:10.5281/zenodo.12/../x", "zenodo:abc"):
        with pytest.raises(SpecError):
            ZenodoSource(base_url=fake.base).resolve(spec)


def test_fake_figshare_article_version(fake: FakeRecords, tmp_path: Path) -> None:
    fake.json("/v2/articles/555", {"id": 555, "version": 3})
    fake.json("/v2/articles/555/versions/3", {"files": [
        {"name": "requirements.txt", "size": 6, "download_url": f"{fake.base}/dl/1"},
        {"name": "remote.csv", "is_link_only": True, "download_url": "https://elsewhere.example/x"}]})
    fake.json("/v2/articles/555/versions/2", {"files": [
        {"name": "old.txt", "size": 3, "download_url": f"{fake.base}/dl/2"}]})
    fake.file("/dl/1", b"numpy\n")
    fake.file("/dl/2", b"old")
    source = FigshareSource(base_url=fake.base)
    latest = source.resolve("figshare:10.6084/m9.figshare.555")
    assert latest.resolved == "555.v3"
    assert [p.name for p in source.fetch(latest, tmp_path / "l").iterdir()] == ["requirements.txt"]
    pinned = source.resolve("doi:10.6084/m9.figshare.555.v2")
    assert pinned.resolved == "555.v2"
    assert (source.fetch(pinned, tmp_path / "o") / "old.txt").read_text() == "old"


def test_fake_dataverse_dataset_with_folders(fake: FakeRecords, tmp_path: Path) -> None:
    fake.json("/api/datasets/:persistentId/?persistentId=doi:10.7910/DVN/TEST01", {"status": "OK", "data": {
        "id": 77, "latestVersion": {"versionNumber": 2, "versionMinorNumber": 1}}})
    fake.json("/api/datasets/77/versions/2.1", {"status": "OK", "data": {"files": [
        {"directoryLabel": "code", "dataFile": {"id": 5, "filename": "run.py", "filesize": 9}},
        {"dataFile": {"id": 6, "filename": "requirements.txt", "filesize": 6}}]}})
    fake.json("/api/datasets/:persistentId/?persistentId=doi:10.7910/DVN/EVIL01", {"status": "OK", "data": {
        "id": 78, "latestVersion": {"versionNumber": 1, "versionMinorNumber": 0}}})
    fake.json("/api/datasets/78/versions/1.0", {"status": "OK", "data": {"files": [
        {"directoryLabel": "../../..", "dataFile": {"id": 5, "filename": "run.py"}}]}})
    fake.file("/api/access/datafile/5", b"print(1)\n")
    fake.file("/api/access/datafile/6", b"numpy\n")
    source = DataverseSource(base_url=fake.base)
    ref = source.resolve("dataverse:10.7910/DVN/TEST01")
    assert ref.resolved == "77-v2.1"
    dest = source.fetch(ref, tmp_path / "dv")
    assert (dest / "code" / "run.py").read_text() == "print(1)\n" and (dest / "requirements.txt").exists()
    with pytest.raises(SourceError, match="unsafe"):
        source.fetch(source.resolve("dataverse:10.7910/DVN/EVIL01"), tmp_path / "evil")
    assert not (tmp_path / "run.py").exists()


@pytest.mark.parametrize(("spec", "name"), [
    ("zenodo:10.5281/zenodo.1", "zenodo"), ("https://doi.org/10.5281/zenodo.1", "zenodo"),
    ("https://zenodo.org/records/1", "zenodo"), ("figshare:10.6084/m9.figshare.9.v1", "figshare"),
    ("doi:10.7910/DVN/TJCLKP", "dataverse"), ("dataverse:10.1234/abc", "dataverse"),
])
def test_doi_specs_are_dispatched_before_the_git_source(spec: str, name: str) -> None:
    assert find_source(spec).name == name
