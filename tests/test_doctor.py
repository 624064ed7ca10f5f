"""``bindery doctor`` helpers that read the machine's configuration."""

from pathlib import Path

import pytest

from bindery import doctor as setup
from bindery.engine import debian_base


def test_apt_mirror_reads_deb822_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sources = tmp_path / "sources.list.d"
    sources.mkdir()
    (sources / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
    )
    real_path = Path

    def fake_path(p: str) -> Path:
        mapping = {"/etc/apt/sources.list.d": sources, "/etc/apt/sources.list": tmp_path / "none"}
        return real_path(mapping.get(p, p))

    monkeypatch.setattr(debian_base, "Path", fake_path)
    assert setup.apt_mirror() == "http://mirror.example/debian"


def test_suite_comes_from_the_image_tag() -> None:
    assert setup._suite_of("bindery/base:trixie") == "trixie"
    assert setup._suite_of("bindery/base:bookworm") == "bookworm"
    assert debian_base.suite_of("bindery/base:sid") == "sid"
    assert debian_base.suite_of("example/base:py312") is None
    assert debian_base.suite_of("bindery/base:nonsense") is None


def test_doctor_reports_the_running_engine() -> None:
    from bindery.composition import Settings

    check = setup.check_engine(Settings(), fix=False, say=lambda m: None)
    assert check.ok, check.detail
    assert "Docker" in check.detail
