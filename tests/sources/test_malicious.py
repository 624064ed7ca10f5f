"""Unsafe specs and refs are refused before any git process starts, and leave nothing behind."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from bindery.errors import SpecError
from bindery.sources import resolve

from .conftest import Origin

PWNED = Path(f"/tmp/pwned-{uuid.uuid4().hex}")

BAD_URLS = [
    f"--upload-pack=touch {PWNED}",
    f"-uupload-pack=touch{PWNED}",
    f"ext::sh -c touch% {PWNED}",
    f"ext::touch{PWNED}",
    "fd::17",
    "file:///tmp/x\n--upload-pack=touch",
    "https://example.org/x\x00y",
    "ssh://-oProxyCommand=touch/x",
    f"ssh://-oProxyCommand=touch{PWNED}@host/x",
    f"git@-oProxyCommand=touch{PWNED}:x",
    "gopher://127.0.0.1/x",
    "https://",
]

BAD_REFS = [
    f"--upload-pack=touch {PWNED}",
    "-b",
    "main..dev",
    "../../etc/passwd",
    "HEAD@{1}",
    "@",
    "main\n",
    "ma in",
    "main~1",
    "main^",
    "ref:x",
    "a/.hidden",
    "a.lock",
    "a//b",
    "/main",
    "main/",
    "main.",
    "*",
    "x[0]",
    "a\\b",
    "",
]


@pytest.fixture
def no_subprocess(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record (and refuse) every process the sources try to start."""
    started: list[list[str]] = []

    def refuse(args: list[str], *rest: object, **kwargs: object) -> None:
        started.append(list(args))
        raise AssertionError(f"a subprocess was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    return started


@pytest.mark.parametrize("url", BAD_URLS)
def test_malicious_url_is_refused_without_running_anything(url: str, no_subprocess: list) -> None:
    with pytest.raises(SpecError):
        resolve(url)
    assert no_subprocess == []
    assert not PWNED.exists()


@pytest.mark.parametrize("bad_ref", BAD_REFS)
def test_malicious_ref_is_refused_without_running_anything(bad_ref: str, origin: Origin,
                                                            no_subprocess: list) -> None:
    with pytest.raises(SpecError) as err:
        resolve(origin.file_url, bad_ref)
    assert "ref" in str(err.value)
    assert no_subprocess == []
    assert not PWNED.exists()


def test_malicious_ref_for_a_local_git_dir_is_refused(origin: Origin, no_subprocess: list) -> None:
    with pytest.raises(SpecError):
        resolve(str(origin.work), f"--upload-pack=touch {PWNED}")
    assert no_subprocess == [] and not PWNED.exists()


def test_option_looking_upload_pack_never_runs_for_real(origin: Origin) -> None:
    """Without the subprocess guard too: the real code path creates no file."""
    for spec, ref in [(f"--upload-pack=touch {PWNED}", None), (origin.file_url, f"--upload-pack=touch {PWNED}"),
                      (f"ext::sh -c touch% {PWNED}", None)]:
        with pytest.raises(SpecError):
            resolve(spec, ref)
    assert not PWNED.exists()
