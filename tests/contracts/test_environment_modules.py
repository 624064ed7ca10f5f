"""What every environment module promises (``bindery.environment_modules``), checked over
every installed one: the built-ins (conda, ...) and any third party's.

A module has a name (its entry point's), claims at least one configuration file, has
options that are a frozen dataclass with a default for every field, does nothing — no
contribution, no host work — for a repository without its files, and refuses an unusable
file with a :class:`RepoConfigError` that names the file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bindery.builder.modules import ENVIRONMENT_MODULES, ModuleOptionsError, module_options
from bindery.environment import EnvironmentOptions, RepoConfigError, detect
from bindery.environment.modules import EnvironmentModule, HostResult, HostWork
from bindery.environment.repo_files import ConfigFiles

MODULES = [pytest.param(name, id=name) for name in ENVIRONMENT_MODULES.names()]
#: Text no configuration format accepts, and not even UTF-8.
BAD_CONTENT = b"\xff\xfe\x00 {{{ [[[ :::\n"


def _module(name: str) -> EnvironmentModule:
    cls = ENVIRONMENT_MODULES.load(name)
    return cls(module_options(cls, {}))


def test_the_built_in_modules_are_registered() -> None:
    assert "conda" in ENVIRONMENT_MODULES.names()


@pytest.mark.parametrize("name", MODULES)
def test_named_as_registered_with_claims_and_an_order(name: str) -> None:
    cls = ENVIRONMENT_MODULES.load(name)
    assert issubclass(cls, EnvironmentModule)
    assert cls.name == name
    assert cls.claims and all(isinstance(c, str) and c and "/" not in c for c in cls.claims)
    assert isinstance(cls.order, int)


@pytest.mark.parametrize("name", MODULES)
def test_options_are_a_frozen_dataclass_with_defaults(name: str) -> None:
    cls = ENVIRONMENT_MODULES.load(name)
    options_type = cls.options_type
    assert dataclasses.is_dataclass(options_type) and isinstance(options_type, type)
    assert options_type.__dataclass_params__.frozen  # type: ignore[attr-defined]
    defaults = options_type()  # every field has a default
    assert module_options(cls, {}) == defaults
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(defaults, "surely_not_an_option", 1)  # noqa: B010 - the point is the frozen check
    with pytest.raises(ModuleOptionsError, match="surely_not_an_option"):
        module_options(cls, {"surely_not_an_option": 1})


@pytest.mark.parametrize("name", MODULES)
def test_nothing_for_a_repository_without_its_files(name: str, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("no configuration here\n")
    module = _module(name)
    files = ConfigFiles(tmp_path)
    settings = EnvironmentOptions()
    assert module.host_work(files, settings) is None
    assert module.detect(files, settings) is None

    def no_host_work(work: HostWork) -> HostResult:
        raise AssertionError(f"{name} asked for host work on an empty repository: {work}")

    env = detect(tmp_path, settings, [module], run_host_work=no_host_work)
    assert env.contributions == ()


@pytest.mark.parametrize("name", MODULES)
def test_an_unusable_file_is_refused_by_name(name: str, tmp_path: Path) -> None:
    module = _module(name)
    for claimed in type(module).claims:
        repo = tmp_path / claimed.replace(".", "_")
        repo.mkdir()
        (repo / claimed).write_bytes(BAD_CONTENT)
        with pytest.raises(RepoConfigError) as err:
            module.detect(ConfigFiles(repo), EnvironmentOptions())
        assert claimed in str(err.value)


@pytest.mark.parametrize("name", MODULES)
def test_a_host_result_reaches_a_copy_and_never_the_shared_module(name: str) -> None:
    module = _module(name)
    result = HostResult(False, "unreachable for the test")
    copy = module.with_host_result(result)
    assert copy is not module and copy.host_result is result
    assert module.host_result is None and copy.options == module.options
