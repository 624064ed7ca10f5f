"""Spec grammar (BinderHub's), pasted-URL understanding, badges: pure, no I/O."""

import pytest

from bindery.binder import badges, providers
from bindery.errors import SpecError


@pytest.mark.parametrize("provider, spec, source_spec, ref, repo_url", [
    ("gh", "owner/repo/HEAD", "gh:owner/repo", "HEAD", "https://github.com/owner/repo"),
    ("gh", "owner/repo.git/main", "gh:owner/repo", "main", "https://github.com/owner/repo"),
    ("gh", "owner/repo/feature/nested", "gh:owner/repo", "feature/nested",
     "https://github.com/owner/repo"),
    ("gh", "owner/repo", "gh:owner/repo", "HEAD", "https://github.com/owner/repo"),
    ("gl", "group%2Fsub%2Fproject/v1.0", "gl:group/sub/project", "v1.0",
     "https://gitlab.com/group/sub/project"),
    ("gist", "someone/abc123", "gist:someone/abc123", "HEAD",
     "https://gist.github.com/someone/abc123"),
    ("git", "https%3A%2F%2Fexample.org%2Fr.git/release%2F2", "https://example.org/r.git",
     "release/2", "https://example.org/r.git"),
    ("git", "git%3A%2F%2F127.0.0.1%3A9418%2Frepo/HEAD", "git://127.0.0.1:9418/repo", "HEAD",
     "git://127.0.0.1:9418/repo"),
    ("zenodo", "10.5281/zenodo.3242074", "zenodo:10.5281/zenodo.3242074", "HEAD",
     "https://doi.org/10.5281/zenodo.3242074"),
])
def test_binderhub_specs_parse(provider, spec, source_spec, ref, repo_url):
    parsed = providers.parse(provider, spec)
    assert (parsed.source_spec, parsed.ref, parsed.repo_url) == (source_spec, ref, repo_url)


def test_persistent_request_pins_the_commit_and_key_drops_the_ref():
    parsed = providers.parse("gh", "owner/repo/feature/nested")
    assert parsed.key == "gh/owner/repo"
    assert parsed.persistent_spec("abc123") == "owner/repo/abc123"
    assert parsed.ref_url("abc123") == "https://github.com/owner/repo/tree/abc123"
    git = providers.parse("git", "https%3A%2F%2Fexample.org%2Fr.git/main")
    assert git.persistent_spec("f00") == "https%3A%2F%2Fexample.org%2Fr.git/f00"


@pytest.mark.parametrize("provider, spec, words", [
    ("nope", "a/b/HEAD", "not a repository provider"),
    ("gh", "", "names no repository"),
    ("gh", "justone", "owner and repository"),
    ("gh", "own er/repo/HEAD", "not a valid GitHub repository"),
    ("gh", "owner/repo/bad..ref", "not a valid branch"),
    ("gl", "justone/HEAD", "not a valid GitLab project"),
    ("git", "https://example.org/r.git/HEAD", "must be URL-encoded"),
    ("git", "notaurl", "URL-encoded repository URL"),
    ("zenodo", "zenodo.123", "is not a DOI"),
])
def test_malformed_specs_are_explained(provider, spec, words):
    with pytest.raises(SpecError, match=words):
        providers.parse(provider, spec)


@pytest.mark.parametrize("text, selected, expected", [
    ("https://github.com/o/r", "gh", ("gh", "o/r", None)),
    ("https://github.com/o/r.git", "git", ("gh", "o/r", None)),
    ("https://github.com/o/r/tree/dev/x", "gh", ("gh", "o/r", "dev/x")),
    ("https://gitlab.com/g/s/p/-/tree/main", "gh", ("gl", "g/s/p", "main")),
    ("https://gist.github.com/u/123abc", "gh", ("gist", "u/123abc", None)),
    ("https://zenodo.org/records/42", "gh", ("zenodo", "10.5281/zenodo.42", None)),
    ("https://doi.org/10.6084/m9.figshare.9782777.v1", "gh",
     ("figshare", "10.6084/m9.figshare.9782777.v1", None)),
    ("10.7910/DVN/TJCLKP", "dataverse", ("dataverse", "10.7910/DVN/TJCLKP", None)),
    ("https://git.example.org/team/tool.git", "gh",
     ("git", "https://git.example.org/team/tool.git", None)),
    ("o/r", "gh", ("gh", "o/r", None)),
])
def test_pasted_text_is_understood(text, selected, expected):
    assert providers.understand(text, selected) == expected


def test_launch_paths_round_trip_through_the_parser():
    assert providers.launch_path("gh", "o/r") == "v2/gh/o/r/HEAD"
    assert providers.launch_path("gl", "g/s/p", "dev") == "v2/gl/g%2Fs%2Fp/dev"
    path = providers.launch_path("git", "https://example.org/r.git", "feature/a")
    assert path == "v2/git/https%3A%2F%2Fexample.org%2Fr.git/feature/a"
    assert providers.parse("git", path.split("/", 2)[2]).ref == "feature/a"


def test_where_the_user_lands():
    assert providers.target_urlpath() == "lab"
    assert providers.target_urlpath(labpath="nb/a b.ipynb") == "lab/tree/nb/a%20b.ipynb"
    assert providers.target_urlpath(filepath="/x.ipynb") == "lab/tree/x.ipynb"
    assert providers.target_urlpath(urlpath="/voila/render/x.ipynb") == "voila/render/x.ipynb"


def test_badge_snippets_link_the_launch_url():
    snip = badges.snippets("http://h/v2/gh/o/r/HEAD", "http://h/badge_logo.svg")
    assert snip.markdown == "[![Binder](http://h/badge_logo.svg)](http://h/v2/gh/o/r/HEAD)"
    assert ":target: http://h/v2/gh/o/r/HEAD" in snip.rst
    assert 'href="http://h/v2/gh/o/r/HEAD"' in snip.html
    assert badges.BADGE_SVG.startswith("<svg")


def test_the_providers_are_those_of_the_installed_sources(monkeypatch):
    """A third-party source that declares a LaunchProvider is launchable from a link;
    a source without one (local paths) is not."""
    from dataclasses import dataclass

    from bindery.sources.base import LaunchProvider, LinkSpec, Source

    @dataclass(frozen=True)
    class ForgeLinks(LaunchProvider):
        def parse(self, spec: str) -> LinkSpec:
            name, _, ref = spec.partition("/")
            return LinkSpec(f"{name}/{ref or 'HEAD'}", name, f"forge:{name}", ref or "HEAD",
                            f"https://forge.example.org/{name}")

        def spec_for(self, repository: str, ref: str) -> str:
            return f"{repository}/{ref}"

    class ForgeSource(Source):
        name = "forge"
        launch_provider = ForgeLinks("forge", "Forge", "Forge project", "project")

    class Registry:
        def load_all(self) -> dict[str, type[Source]]:
            from bindery.sources.local import LocalSource

            return {"forge": ForgeSource, "local": LocalSource}

    monkeypatch.setattr(providers, "SOURCES", Registry())
    providers.launch_providers.cache_clear()
    try:
        assert list(providers.launch_providers()) == ["forge"]
        parsed = providers.parse("forge", "widget/v2")
        assert (parsed.source_spec, parsed.ref, parsed.key) == \
            ("forge:widget", "v2", "forge/widget")
        assert providers.launch_path("forge", "widget", "v2") == "v2/forge/widget/v2"
        with pytest.raises(SpecError, match="Use one of: forge."):
            providers.parse("local", "/srv/repo")
    finally:
        providers.launch_providers.cache_clear()
