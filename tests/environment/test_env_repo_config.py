"""A repository's bindery.toml: a builder version pin and a few allow-listed options."""

from __future__ import annotations

import pytest

from bindery.environment.errors import RepoConfigError
from bindery.environment.repo_config import parse_repo_config, read_repo_config


def test_version_pin_and_allowed_options_are_read() -> None:
    config = parse_repo_config('[builder]\nversion = "~=0.1"\npython_policy = "exact"\n'
                               '[builder.modules.conda]\nmode = "fallback"\n', "bindery.toml")
    assert config.version == "~=0.1"
    assert config.options == {"python_policy": "exact"}
    assert config.modules == {"conda": {"mode": "fallback"}}
    assert config.version_problem("0.1.0") is None
    assert config.summary() == ("bindery.toml: builder version ~=0.1, python_policy = 'exact', "
                                "modules.conda.mode = 'fallback'")


@pytest.mark.parametrize(("written", "running", "matches"), [
    ("0.1", "0.1.7", True),      # a bare X.Y means any X.Y.Z
    ("0.1", "0.2.0", False),
    ("0.1.0", "0.1.0", True),
    (">=0.1,<0.3", "0.2.5", True),
    ("==0.3.*", "0.2.0", False),
])
def test_version_specifiers(written, running, matches) -> None:
    config = parse_repo_config(f'[builder]\nversion = "{written}"\n', "binder/bindery.toml")
    assert (config.version_problem(running) is None) is matches


def test_a_mismatch_names_both_versions_and_the_file() -> None:
    problem = parse_repo_config('[builder]\nversion = "~=0.3"\n', "binder/bindery.toml"
                                ).version_problem("0.1.0")
    assert problem is not None
    assert "binder/bindery.toml asks for Bindery ~=0.3" in problem and "Bindery 0.1.0" in problem


@pytest.mark.parametrize(("text", "named"), [
    ('[builder]\nbuild_memory = "64g"\n', "build_memory cannot be set by a repository"),
    ('[builder]\nnetwork = "host"\n', "network cannot be set by a repository"),
    ('[builder]\nallow_root = true\n', "allow_root cannot be set by a repository"),
    ('[builder]\nextra_ca_certificates = ["/etc/shadow"]\n', "extra_ca_certificates cannot"),
    ('[builder.modules.conda]\nchannel_urls = { conda-forge = "http://127.0.0.1:1" }\n',
     "modules.conda.channel_urls cannot be set by a repository"),
    ('[builder.modules.conda]\nchannels = ["internal"]\n', "modules.conda.channels cannot"),
    ('[builder]\npython_install_mirror = "http://10.0.0.1/"\n', "python_install_mirror cannot"),
    ('[builder]\nfrobnicate = 1\n', "frobnicate is not a setting a repository can choose"),
    ('[builder]\npython_policy = "whatever"\n', "'whatever' is not one of 'nearest', 'exact'"),
    ('[builder]\nversion = "not a version"\n', "is not a PEP 440 specifier"),
    ('[hub]\nx = 1\n', "only a [builder] table is read; found hub"),
    ('[builder\n', "is not valid TOML"),
])
def test_anything_outside_the_allow_list_is_an_error_naming_the_key(text, named) -> None:
    with pytest.raises(RepoConfigError, match="bindery.toml") as caught:
        parse_repo_config(text, "bindery.toml")
    assert named in str(caught.value)


def test_the_file_follows_the_binder_directory_rule(make_repo) -> None:
    root = make_repo({"bindery.toml": '[builder]\nversion = "9"\n',
                      "binder/bindery.toml": '[builder]\npython_policy = "exact"\n'})
    config = read_repo_config(root)
    assert config is not None and config.path == "binder/bindery.toml" and not config.version
    assert read_repo_config(make_repo({"a.txt": ""})) is None


def test_a_root_file_hidden_by_a_binder_directory_is_named(make_repo) -> None:
    from bindery.environment.repo_config import ignored_root_file

    root = make_repo({"bindery.toml": '[builder]\nversion = "9"\n', "binder/apt.txt": "jq\n"})
    assert read_repo_config(root) is None
    assert ignored_root_file(root) == ("bindery.toml ignored: binder/ configures the environment; "
                                       "move it to binder/bindery.toml to use it")
    assert ignored_root_file(make_repo({"bindery.toml": ""})) is None
