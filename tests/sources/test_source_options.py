"""[sources.<name>]: each source configured with its own options, typos named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bindery.composition import Settings, load_settings, make_builder
from bindery.config import ConfigError
from bindery.sources import SourceCatalog
from bindery.sources.git import GitSource
from bindery.sources.hosted import GitLabSource, HostedOptions
from bindery.sources.zenodo import ZenodoSource


def _load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "bindery.toml"
    path.write_text(text)
    return load_settings(path, environ={})


def test_a_self_hosted_forge_and_a_timeout_reach_the_sources(tmp_path) -> None:
    settings = _load(tmp_path, "[sources.gl]\nbase_url = 'https://gitlab.example.edu/'\n"
                               "[sources.git]\ntimeout = 600\n"
                               "[sources.zenodo]\nbase_url = 'https://sandbox.zenodo.org'\n")
    catalog = SourceCatalog(settings.sources.options())
    gitlab = catalog.find("gl:group/project")
    assert isinstance(gitlab, GitLabSource) and gitlab.base_url == "https://gitlab.example.edu"
    git = catalog.named("git")
    assert isinstance(git, GitSource) and git.timeout == 600
    zenodo = catalog.named("zenodo")
    assert isinstance(zenodo, ZenodoSource) and zenodo.base_url == "https://sandbox.zenodo.org"
    # Sources nobody configured keep their defaults.
    assert catalog.named("gh").base_url == "https://github.com"


def test_the_builder_resolves_through_the_configured_catalog(tmp_path) -> None:
    settings = _load(tmp_path, "[sources.gl]\nbase_url = 'https://gitlab.example.edu'\n")
    builder = make_builder(settings, engine=object())  # type: ignore[arg-type]
    found = builder.sources.find("gl:group/project")
    assert isinstance(found, GitLabSource) and found.base_url == "https://gitlab.example.edu"


@pytest.mark.parametrize(
    ("toml", "named", "line"),
    [
        ("[sources.gl]\nbase_ulr = 'https://x'\n", "sources.gl.base_ulr", 2),
        ("[sources.gitlub]\nbase_url = 'https://x'\n", "No source named 'gitlub'", 1),
        ("[sources.git]\ntimeout = -1\n", "sources.git.timeout", 2),
    ],
)
def test_a_bad_source_table_names_the_key_and_line(tmp_path, toml, named, line) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, toml)
    assert named in str(caught.value)
    assert f"bindery.toml, line {line}" in str(caught.value)


def test_options_models_reject_unknown_keys() -> None:
    with pytest.raises(ValueError):
        HostedOptions.model_validate({"base_url": "https://x", "colour": "red"})
