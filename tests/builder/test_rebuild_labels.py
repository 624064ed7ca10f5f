"""`bindery rebuild`: pinned repository files from an image's labels alone (no engine)."""

from __future__ import annotations

import json

import pytest

from bindery.builder.rebuild import RebuildError, lock_differences, reproduction

LOCK = "Six==1.16.0\nnumpy==1.26.4\n-e file:///home/jovyan\nmine @ file:///home/jovyan/pkg\n" \
       "direct @ https://example.org/direct-1.0-py3-none-any.whl\n"


def test_pip_python_and_apt_are_pinned() -> None:
    found = reproduction({"org.bindery.lock": LOCK, "org.bindery.python": "3.11",
                          "org.bindery.apt": "jq=1.6-2.1+deb12u2\nlibjq1=1.6-2.1+deb12u2\n"})
    assert found.files["requirements.txt"].splitlines()[1:] == [
        "Six==1.16.0", "numpy==1.26.4", "direct @ https://example.org/direct-1.0-py3-none-any.whl"]
    assert found.files["runtime.txt"] == "python-3.11\n"
    assert found.files["apt.txt"] == "jq=1.6-2.1+deb12u2\nlibjq1=1.6-2.1+deb12u2\n"
    assert any("-e file:///home/jovyan" in n and "mine @ file:" in n for n in found.notes)


def test_conda_client_images_become_an_exact_environment_yml() -> None:
    report = {"mode": "conda", "channels": ["https://conda.anaconda.org/conda-forge"],
              "packages": ["https://c/conda-forge/linux-64/numpy-1.26.4-py311h64a7726_0.conda#sha256=ab",
                           "https://c/conda-forge/noarch/tzdata-2024a-h0c530f3_0.tar.bz2#sha256=cd"],
              "pip": ["six==1.16.0"]}
    found = reproduction({"org.bindery.lock": "jupyterlab==4.2.5\n", "org.bindery.python": "3.11",
                          "org.bindery.conda": json.dumps(report)})
    env = found.files["environment.yml"]
    assert '  - "numpy==1.26.4=py311h64a7726_0"' in env and '  - "tzdata==2024a=h0c530f3_0"' in env
    assert '    - "six==1.16.0"' in env and "requirements.txt" not in found.files


def test_conda_fallback_images_come_back_from_pypi_pins() -> None:
    found = reproduction({"org.bindery.lock": "numpy==1.26.4\n", "org.bindery.python": "3.11",
                          "org.bindery.conda": json.dumps({"mode": "fallback"})})
    assert "numpy==1.26.4" in found.files["requirements.txt"]
    assert any("fallback" in n for n in found.notes)


def test_r_images_name_r_and_their_snapshot() -> None:
    report = {"mode": "debian", "r_version": "4.2.2", "repository": "https://p/cran/__linux__/bookworm/2024-01-10",
              "installed": ["jsonlite (r-cran-jsonlite 1.8.4+dfsg-1)"]}
    found = reproduction({"org.bindery.lock": "six==1.16.0\n", "org.bindery.python": "3.11",
                          "org.bindery.r.report": json.dumps(report)})
    assert found.files["runtime.txt"] == "r-4.2-2024-01-10\n"
    assert found.files["install.R"] == 'install.packages(c("jsonlite"))\n'


def test_images_without_a_package_record_are_refused() -> None:
    with pytest.raises(RebuildError, match="repository's own Dockerfile"):
        reproduction({"org.bindery.repo-dockerfile": "true", "org.bindery.lock": "(not recorded)"})
    with pytest.raises(RebuildError, match="no org.bindery.lock label"):
        reproduction({})


def test_lock_differences_name_each_package() -> None:
    differences, notes = lock_differences(
        "six==1.16.0\nattrs==23.1.0\nold==1\n", "Six==1.17.0\nattrs==23.1.0\nnew==2\nrfc3987-syntax==1.1.0\n",
        ("rfc3987-syntax",))
    assert differences == ["+ new==2 (new in the new image)", "- old==1 (missing from the new image)",
                           "~ six==1.16.0 → Six==1.17.0"]
    assert notes and "rfc3987-syntax==1.1.0 is installed again" in notes[0]
    assert lock_differences("a==1\n", "a==1\n") == ([], [])
