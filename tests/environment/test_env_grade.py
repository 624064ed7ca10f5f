"""The reproducibility grade (A … D), computed from the repository's files alone."""

from __future__ import annotations

import pytest

from bindery.environment.grade import is_exact_pin

LOCK = """version = 1
requires-python = ">=3.11"

[[package]]
name = "six"
version = "1.16.0"
source = { registry = "https://pypi.org/simple" }
"""
PYPROJECT = '[project]\nname = "x"\nversion = "0"\nrequires-python = ">=3.11"\n'


def _grade(plan) -> str:
    return plan.labels["org.bindery.grade"]


def _line(plan) -> str:
    return next(line for line in plan.summary if line.startswith("Reproducibility grade: "))


@pytest.mark.parametrize(("line", "exact"), [
    ("numpy==1.26.4", True),
    ("numpy[extra] == 1.26.4 ; python_version >= '3.9'", True),
    ("numpy===1.26.4", True),
    ("numpy==1.26.4 --hash=sha256:abc", True),
    ("numpy==1.*", False),
    ("numpy>=1.26", False),
    ("numpy", False),
    ("numpy==1.26,<2", False),
])
def test_exact_pins_are_told_apart_from_ranges(line, exact) -> None:
    assert is_exact_pin(line) is exact


def test_everything_pinned_is_grade_a(plan_for) -> None:
    plan = plan_for({"runtime.txt": "python-3.11\n", "requirements.txt": "six==1.16.0\nattrs==23.2.0\n",
                     "apt.txt": "jq=1.6-2.1\n"})
    assert _grade(plan) == "A"
    assert "every requirement in requirements.txt is ==" in _line(plan)


def test_a_lockfile_with_its_python_and_no_apt_is_grade_a(plan_for) -> None:
    plan = plan_for({"runtime.txt": "python-3.13\n", "uv.lock": LOCK, "pyproject.toml": PYPROJECT})
    assert _grade(plan) == "A"
    assert "uv.lock installed exactly" in _line(plan)


def test_pinned_packages_without_a_python_version_are_grade_b(plan_for) -> None:
    plan = plan_for({"requirements.txt": "six==1.16.0\n"})
    assert _grade(plan) == "B"
    assert "Python version not stated" in _line(plan)


def test_unpinned_apt_packages_make_it_grade_b(plan_for) -> None:
    plan = plan_for({"runtime.txt": "python-3.11\n", "requirements.txt": "six==1.16.0\n",
                     "apt.txt": "jq\n"})
    assert _grade(plan) == "B"
    assert "apt.txt packages without =version: jq" in _line(plan)


def test_a_substituted_python_is_not_pinned(plan_for) -> None:
    plan = plan_for({"runtime.txt": "python-3.10\n", "requirements.txt": "six==1.16.0\n"})
    assert _grade(plan) == "B"
    assert "Python 3.10 asked for, 3.11 provided" in _line(plan)


def test_some_pins_are_grade_c(plan_for) -> None:
    plan = plan_for({"requirements.txt": "six==1.16.0\nattrs>=23\n"})
    assert _grade(plan) == "C"
    assert "1 of 2 requirements in requirements.txt are ==" in _line(plan)


def test_only_the_python_version_is_grade_c(plan_for) -> None:
    assert _grade(plan_for({"runtime.txt": "python-3.11\n", "requirements.txt": "six\n"})) == "C"


def test_nothing_pinned_is_grade_d(plan_for) -> None:
    assert _grade(plan_for({"requirements.txt": "six\nattrs\n"})) == "D"
    assert _grade(plan_for({})) == "D"


def test_a_package_repository_pins_only_part(plan_for) -> None:
    plan = plan_for({"setup.py": "from setuptools import setup\nsetup()\n",
                     "requirements.txt": "six==1.16.0\n", "runtime.txt": "python-3.11\n"})
    assert _grade(plan) == "C"


def test_pipfile_lock_counts_as_exact(plan_for) -> None:
    lock = ('{"_meta": {"requires": {"python_version": "3.11"}, "sources": []}, '
            '"default": {"six": {"version": "==1.16.0"}}, "develop": {}}')
    assert _grade(plan_for({"Pipfile.lock": lock})) == "A"


def test_conda_pins_come_from_the_module(make_repo, settings) -> None:
    from bindery.environment import detect, render
    from bindery.environment.conda import CondaModule, CondaOptions

    module = CondaModule(CondaOptions(mode="fallback"))
    exact = make_repo({"environment.yml": "dependencies:\n  - python=3.11\n  - numpy==1.26.4\n"
                                          "  - pip:\n    - six==1.16.0\n"})
    loose = make_repo({"environment.yml": "dependencies:\n  - numpy=1.26\n  - six\n"})
    plan = render(detect(exact, settings, [module]), settings, ca_bundle=None)
    assert plan.labels["org.bindery.grade"] == "A"
    assert "environment.yml: pinned exactly" in _line(plan)
    plan = render(detect(loose, settings, [module]), settings, ca_bundle=None)
    assert plan.labels["org.bindery.grade"] == "D"


def test_a_repository_dockerfile_is_graded_d_with_the_reason(plan_for) -> None:
    plan = plan_for({"Dockerfile": "FROM bindery/base:bookworm\n"})
    assert _grade(plan) == "D"
    assert "Dockerfile is built as given" in _line(plan)
