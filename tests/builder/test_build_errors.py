"""Bad input and failing builds: a clear error, and nothing half-built left behind."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bindery.builder import Builder
from bindery.composition import Settings, make_builder
from bindery.errors import BuildError, BuildLimitExceeded
from bindery.sources import resolve

BINDERY = [sys.executable, "-m", "bindery.cli"]


def bindery(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BINDERY, *args], capture_output=True, text=True, timeout=600, cwd=cwd)


def test_missing_directory_is_a_clear_error() -> None:
    result = bindery("build", "/definitely/not/here")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "not" in result.stderr.lower()


def test_option_like_ref_is_refused_before_running_git(make_repo, bare_url, tmp_path) -> None:
    url = bare_url(make_repo({"a.txt": "x"}))
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"
    result = bindery("build", url, "--ref", f"--upload-pack=touch {marker}")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert not marker.exists()


def test_option_like_url_is_refused(tmp_path) -> None:
    marker = tmp_path / f"pwned-{uuid.uuid4().hex}"
    result = bindery("build", f"--upload-pack=touch {marker}")
    assert result.returncode != 0 and not marker.exists()


def test_unknown_ref_names_the_ref(make_repo, bare_url) -> None:
    url = bare_url(make_repo({"a.txt": "x"}))
    result = bindery("build", url, "--ref", "no-such-branch")
    assert result.returncode != 0
    assert "no-such-branch" in result.stderr and "Traceback" not in result.stderr


def test_json_logs_end_with_failed_event_for_bad_runtime(make_repo) -> None:
    repo = make_repo({"runtime.txt": "python-2.7\n"})
    result = bindery("build", str(repo), "--json-logs")
    assert result.returncode != 0
    import json

    events = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert events[-1]["phase"] == "failed"
    assert "3.11" in events[-1]["message"]  # lists the available versions


@pytest.mark.engine
@pytest.mark.slow
def test_broken_requirements_fail_clearly_and_leave_no_image(builder: Builder, make_repo) -> None:
    repo = make_repo({"requirements.txt": "this-package-does-not-exist-bindery==9.9.9\n"})
    ref = resolve(str(repo))
    with pytest.raises(BuildError) as info:
        builder.build(ref)
    assert "this-package-does-not-exist-bindery" in (str(info.value) + info.value.log_tail)
    assert builder.find_image(ref) is None


@pytest.mark.engine
@pytest.mark.slow
def test_build_time_limit(settings: Settings, make_repo) -> None:
    limited = settings.model_copy(deep=True)
    limited.builder.build_timeout = 20
    builder = make_builder(limited)
    repo = make_repo({"postBuild": "#!/bin/bash\nsleep 600\n"})
    ref = resolve(str(repo))
    with pytest.raises(BuildLimitExceeded) as info:
        builder.build(ref)
    assert "20 seconds" in str(info.value)
    assert builder.find_image(ref) is None


@pytest.mark.engine
@pytest.mark.slow
def test_build_memory_limit(settings: Settings, make_repo) -> None:
    limited = settings.model_copy(deep=True)
    limited.builder.build_memory = "200m"
    builder = make_builder(limited)
    hog = "#!/bin/bash\nsleep 1\npython3 -c \"x = bytearray(800 * 1024 * 1024); print(len(x))\"\n"
    # A nonce, so the step really runs: a cached layer from any earlier build of the same
    # files (with no limit in force) would make the build succeed without running it.
    repo = make_repo({"postBuild": hog, "nonce.txt": uuid.uuid4().hex})
    ref = resolve(str(repo))
    with pytest.raises(BuildLimitExceeded) as info:
        builder.build(ref)
    assert "memory" in str(info.value)
    assert builder.find_image(ref) is None


def test_a_bindery_toml_pinning_another_version_is_refused_before_building(make_repo) -> None:
    from bindery import __version__

    repo = make_repo({"bindery.toml": '[builder]\nversion = "~=99.0"\n', "requirements.txt": "six\n"})
    result = bindery("build", str(repo), "--json-logs", cwd=repo.parent)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "bindery.toml asks for Bindery ~=99.0" in result.stderr
    assert f"this is Bindery {__version__}" in result.stderr


def test_a_bindery_toml_version_mismatch_only_warns_when_configured(make_repo, tmp_path) -> None:
    repo = make_repo({"binder/bindery.toml": '[builder]\nversion = "~=99.0"\n'
                                             'python_policy = "exact"\n',
                      "binder/runtime.txt": "python-3.10\n"})
    config = tmp_path / "settings.toml"
    config.write_text('[builder]\nrepo_version_mismatch = "warn"\n')
    result = bindery("--config", str(config), "build", str(repo), "--json-logs")
    # The mismatch is a warning; the repository's own python_policy = "exact" then
    # refuses Python 3.10 (which the default "nearest" would have substituted).
    assert "Bindery: WARNING: binder/bindery.toml asks for Bindery ~=99.0" in result.stdout
    assert result.returncode != 0
    assert "runtime.txt asks for Python 3.10, which this Bindery cannot provide" in result.stderr
