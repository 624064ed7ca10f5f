"""The environment-module contract: how a module's contribution lands in the Dockerfile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bindery.builder.modules import ModuleOptionsError, module_options
from bindery.environment import EnvironmentOptions, detect, render
from bindery.environment.modules import Contribution, EnvironmentModule
from bindery.environment.repo_files import ConfigFiles


@dataclass(frozen=True)
class ToyOptions:
    greeting: str = "hello"
    retries: int = 1


class ToyModule(EnvironmentModule):
    """Applies when the repository has ``toy.txt``; installs packages itself."""

    name = "toy"
    claims = ("toy.txt",)
    options_type = ToyOptions

    def detect(self, files: ConfigFiles, settings: EnvironmentOptions) -> Contribution | None:
        text = files.read_text("toy.txt")
        if text is None:
            return None
        return Contribution(
            module="toy",
            sources=(files.rel("toy.txt"),),
            root_setup="RUN echo runtime-as-root",
            dependency_section=f"COPY --chown=1000:1000 repo/{files.rel('toy.txt')} /tmp/toy.txt\n"
                               "RUN echo deps-as-user",
            repo_section="RUN echo after-copy",
            env={"TOY_GREETING": self.options.greeting},
            path_prepend=("/opt/toy/bin",),
            labels={"org.bindery.toy": text.strip()},
            context_files={"toy.cfg": b"x"},
            python_request="3.13",
            replaces_pip_requirements=True,
            summary=("toy.txt: one toy",),
        )


def _repo(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_module_contributes_in_the_fixed_layer_order(tmp_path: Path) -> None:
    settings = EnvironmentOptions()
    repo = _repo(tmp_path, **{"toy.txt": "v1\n", "requirements.txt": "numpy\n", "postBuild": "echo hi\n"})
    env = detect(repo, settings, [ToyModule(ToyOptions(greeting="hi there"))])
    assert env.python_version == "3.13" and env.python_source == "toy.txt"
    assert env.requirements is None  # the module installs the packages
    assert any("requirements.txt ignored: toy.txt installs" in n for n in env.notes)
    plan = render(env, settings, ca_bundle=None)
    d = plan.dockerfile
    order = ["uv pip install 'jupyterlab", "TOY_GREETING", "runtime-as-root", "deps-as-user", "COPY --chown=1000:1000 repo/ ",
             "after-copy", "./postBuild"]
    positions = [d.index(marker) for marker in order]
    assert positions == sorted(positions), d
    assert 'TOY_GREETING="hi there"' in d and 'PATH="/opt/toy/bin:$PATH"' in d
    assert plan.labels["org.bindery.toy"] == "v1"
    assert plan.context_files["toy.cfg"] == b"x"
    assert "toy.txt: one toy" in plan.summary


def test_modules_do_not_apply_without_their_files_and_claim_them_from_the_unsupported_list(
    tmp_path: Path,
) -> None:
    class Claimer(ToyModule):
        claims = ("install.R",)

        def detect(self, files: ConfigFiles, settings: EnvironmentOptions) -> Contribution | None:
            return None

    repo = _repo(tmp_path, **{"install.R": "x\n"})
    plain = detect(repo, EnvironmentOptions())
    assert any("install.R ignored" in n for n in plain.notes)
    claimed = detect(repo, EnvironmentOptions(), [Claimer()])
    assert not any("install.R" in n for n in claimed.notes)
    assert claimed.contributions == ()


def test_a_binder_dir_hides_root_files_a_module_claims(tmp_path: Path) -> None:
    repo = _repo(tmp_path, **{"toy.txt": "v1\n", "binder__apt.txt": "curl\n"})
    env = detect(repo, EnvironmentOptions(), [ToyModule()])
    assert env.contributions == ()
    assert any("toy.txt" in n and "ignored" in n for n in env.notes)


def test_module_options_name_the_unknown_key_and_the_bad_value() -> None:
    assert module_options(ToyModule, {"greeting": "yo"}) == ToyOptions(greeting="yo")
    with pytest.raises(ModuleOptionsError, match=r"builder.modules.toy: unknown key\(s\) greting"):
        module_options(ToyModule, {"greting": "yo"})
    with pytest.raises(ModuleOptionsError, match=r"builder.modules.toy.retries"):
        module_options(ToyModule, {"retries": "many"})
