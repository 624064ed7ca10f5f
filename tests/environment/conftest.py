"""Fixtures for environment tests: repositories as plain directories (detection is pure)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bindery.builder.settings import BuilderSettings
from bindery.environment import BuildPlan, EnvironmentOptions, detect, render

MakeRepo = Callable[[dict[str, str]], Path]


@pytest.fixture
def settings() -> EnvironmentOptions:
    """The builder's defaults, in the form the pure layer receives them."""
    return BuilderSettings(extra_ca_certificates=[]).environment_options()


@pytest.fixture
def ca() -> bytes:
    """A PEM-shaped bundle; only its presence and bytes matter to rendering."""
    return b"-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"


@pytest.fixture
def make_repo(tmp_path: Path) -> MakeRepo:
    """``make_repo({"binder/apt.txt": "jq\\n", ...})`` → a checkout directory."""
    counter = iter(range(1000))

    def _make(files: dict[str, str]) -> Path:
        root = tmp_path / f"repo{next(counter)}"
        root.mkdir()
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return root

    return _make


@pytest.fixture
def plan_for(make_repo: MakeRepo, settings: EnvironmentOptions) -> Callable[..., BuildPlan]:
    """``plan_for(files, ca=None)`` → the BuildPlan of a repository with those files."""

    def _plan(files: dict[str, str], ca: bytes | None = None) -> BuildPlan:
        return render(detect(make_repo(files), settings), settings, ca_bundle=ca)

    return _plan


@pytest.fixture
def plan_for_with(make_repo: MakeRepo, settings: EnvironmentOptions) -> Callable[..., BuildPlan]:
    """``plan_for_with(files, **option_changes)`` → the plan under changed options."""
    from dataclasses import replace

    def _plan(files: dict[str, str], **changes: object) -> BuildPlan:
        options = replace(settings, **changes)  # type: ignore[arg-type]
        return render(detect(make_repo(files), options), options, ca_bundle=None, bundled_uv=True)

    return _plan
