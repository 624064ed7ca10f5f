"""The entry-point registry and spec dispatch."""

from __future__ import annotations

import pytest

from bindery.errors import SpecError
from bindery.sources import find_source, load_sources


def test_all_builtin_sources_are_registered() -> None:
    names = [cls.name for cls in load_sources()]
    assert set(names) >= {"local", "git", "gh", "gl", "gist"}
    assert names[-1] == "local"  # the catch-all is asked last


@pytest.mark.parametrize(("spec", "name"), [
    ("gh:owner/repo", "gh"), ("gl:group/sub/project@v1", "gl"), ("gist:user/abc123", "gist"),
    ("https://example.org/x.git", "git"), ("http://example.org/x", "git"), ("git://example.org/x", "git"),
    ("ssh://git@example.org/x.git", "git"), ("file:///srv/repo.git", "git"), ("git@example.org:owner/repo.git", "git"),
    ("/srv/project", "local"), ("./project", "local"), ("~/project", "local"), ("project", "local"),
])
def test_specs_go_to_the_right_source(spec: str, name: str) -> None:
    assert find_source(spec).name == name


@pytest.mark.parametrize("spec", ["svn:foo", "ftp://example.org/x", "", "   "])
def test_unknown_kind_lists_what_is_expected(spec: str) -> None:
    with pytest.raises(SpecError, match=r"gh:owner/repo, gl:group/project, gist:user/id"):
        find_source(spec)
