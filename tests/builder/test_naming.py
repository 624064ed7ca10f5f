"""Image identity: same inputs → same name; any input that shapes the image → another name."""

from bindery.builder import Builder
from bindery.composition import Settings
from bindery.sources.base import Ref


class NoEngine:
    """The naming functions never touch the engine."""


def make(settings: Settings | None = None) -> Builder:
    return Builder((settings or Settings()).builder, engine=NoEngine())  # type: ignore[arg-type]


REF = Ref(source="git", url="https://example.org/Owner/My_Repo.git", resolved="a" * 40,
          requested="main", display_name="Owner/My_Repo")


def test_name_is_valid_docker_reference_and_stable() -> None:
    name = make().image_name(REF)
    repo, tag = name.rsplit(":", 1)
    assert repo.startswith("bindery-r/owner-my_repo-")
    assert tag.startswith("a" * 12)
    assert len(tag) <= 128  # Docker's limit for a tag
    assert name == make().image_name(REF)
    assert all(c.islower() or c.isdigit() or c in "/-_.:" for c in name)


def test_other_commit_other_url_other_settings_change_the_name() -> None:
    base = make().image_name(REF)
    assert make().image_name(Ref("git", REF.url, "b" * 40, None, REF.display_name)) != base
    assert make().image_name(Ref("git", REF.url + "x", REF.resolved, None, REF.display_name)) != base
    s = Settings()
    s.builder.jupyter_packages = [*s.builder.jupyter_packages, "jupytext"]
    assert make(s).image_name(REF) != base
    s2 = Settings()
    s2.builder.extra_ca_certificates = []
    assert make(s2).fingerprint() != make().fingerprint() or not Settings().builder.extra_ca_certificates


def test_dirty_local_states_get_different_names() -> None:
    """A local folder's uncommitted changes are part of its identity, past any cut-off."""
    commit = "c" * 40
    one = Ref("local", "/tmp/r", f"{commit}-dirty-1111", None, "r")
    two = Ref("local", "/tmp/r", f"{commit}-dirty-2222", None, "r")
    assert make().image_name(one) != make().image_name(two)
