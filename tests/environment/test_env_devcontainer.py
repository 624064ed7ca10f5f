"""devcontainer.json as a build input: precedence, JSONC, every key Bindery reads."""

from __future__ import annotations

import json

import pytest

from bindery.environment import RepoConfigError, detect, render
from bindery.environment.jsonc import load_jsonc

DOCKERFILE = "FROM bindery/base:bookworm\nRUN echo hi\n"


def test_jsonc_comments_and_trailing_commas() -> None:
    text = """// a comment
    {
      /* block
         comment */
      "image": "example/img:1", // "url": "http://not-a-comment"
      "url": "http://example.org/a//b", "s": "/* not a comment */",
      "list": [1, 2, ],
    }"""
    assert load_jsonc(text, "x.json") == {"image": "example/img:1", "url": "http://example.org/a//b",
                                           "s": "/* not a comment */", "list": [1, 2]}


def test_jsonc_errors_name_the_file_and_line() -> None:
    with pytest.raises(RepoConfigError, match=r"x.json is not valid JSON.*line 3"):
        load_jsonc('{\n  "a": 1\n  "b": 2\n}', "x.json")
    with pytest.raises(RepoConfigError, match="never closed"):
        load_jsonc('{"a": 1 /* oops', "x.json")


def test_build_dockerfile_with_context_args_env_and_lifecycle(make_repo, settings) -> None:
    config = {
        "build": {"dockerfile": "Dockerfile", "context": "..", "args": {"VARIANT": "3.11"}},
        "containerEnv": {"GREETING": "hello \"world\" $HOME", "EXTENDED": "${containerEnv:PATH}:/x"},
        "remoteEnv": {"FROM_HOST": "${localEnv:HOME}", "WITH_DEFAULT": "${localEnv:NOPE:fallback}"},
        "onCreateCommand": "echo created > /tmp/created",
        "postCreateCommand": ["python3", "-c", "print('exec form')"],
        "forwardPorts": [8050, "db:5432"],
        "features": {"ghcr.io/devcontainers/features/node:1": {}},
    }
    repo = make_repo({".devcontainer/devcontainer.json": "// c\n" + json.dumps(config),
                      ".devcontainer/Dockerfile": DOCKERFILE, "analysis.ipynb": "{}"})
    env = detect(repo, settings)
    assert env.devcontainer == ".devcontainer/devcontainer.json"
    assert env.dockerfile == ".devcontainer/Dockerfile" and env.docker_context == ""
    plan = render(env, settings, ca_bundle=None)
    assert plan.uses_repo_dockerfile and plan.build_args == {"VARIANT": "3.11"}
    text = plan.dockerfile
    assert text.startswith(DOCKERFILE)
    assert 'ENV GREETING="hello \\"world\\" \\$HOME"' in text  # no expansion by Docker
    assert 'ENV EXTENDED="${PATH}:/x"' in text
    assert 'ENV FROM_HOST=""' in text and 'ENV WITH_DEFAULT="fallback"' in text
    assert "COPY --chown=1000:100 . /workspaces/project\nWORKDIR /workspaces/project" in text
    assert 'RUN ["/bin/sh", "-c", "echo created > /tmp/created"]' in text
    assert text.index("created") < text.index('RUN ["python3", "-c", "print(\'exec form\')"]')
    summary = "\n".join(plan.summary)
    assert "features ghcr.io/devcontainers/features/node:1 are not installed" in summary
    assert "forwardPorts 8050, db:5432 are not forwarded" in summary
    assert "${localEnv:HOME} is not read from the builder host" in summary
    assert plan.labels["org.bindery.grade"] == "D"


def test_object_form_runs_each_command_in_order(make_repo, settings) -> None:
    config = {"image": "example/ready:1", "postCreateCommand": {"a": "echo one", "b": ["echo", "two"]},
              "remoteUser": "vscode", "workspaceFolder": "/work/here"}
    env = detect(make_repo({".devcontainer.json": json.dumps(config)}), settings)
    text = render(env, settings, ca_bundle=None).dockerfile
    assert text.startswith("FROM example/ready:1\n")
    assert env.required_image == "example/ready:1"
    assert text.index("USER vscode") < text.index('"echo one"') < text.index('["echo", "two"]')
    assert "WORKDIR /work/here" in text


def test_binder_configuration_wins_over_a_devcontainer(make_repo, settings) -> None:
    dev = json.dumps({"image": "example/ready:1"})
    env = detect(make_repo({".devcontainer/devcontainer.json": dev, "requirements.txt": "six\n"}),
                 settings)
    assert env.dockerfile is None and env.requirements is not None
    assert any(".devcontainer/devcontainer.json ignored: requirements.txt" in n for n in env.notes)
    env = detect(make_repo({".devcontainer.json": dev, "binder/apt.txt": "jq\n"}), settings)
    assert env.dockerfile is None
    assert any(".devcontainer.json ignored: binder/ configures" in n for n in env.notes)
    env = detect(make_repo({".devcontainer.json": dev, "Dockerfile": DOCKERFILE}), settings)
    assert env.dockerfile == "Dockerfile" and not env.devcontainer


def test_a_context_below_the_repository_root_does_not_copy_the_repository(make_repo, settings) -> None:
    config = {"build": {"dockerfile": "Dockerfile"}}  # context defaults to the json's folder
    env = detect(make_repo({".devcontainer/devcontainer.json": json.dumps(config),
                            ".devcontainer/Dockerfile": DOCKERFILE}), settings)
    assert env.docker_context == ".devcontainer"
    plan = render(env, settings, ca_bundle=None)
    assert plan.context_dir == ".devcontainer" and "COPY --chown" not in plan.dockerfile
    assert any("the repository is not copied" in line for line in plan.summary)


def test_features_can_be_made_an_error(make_repo, settings) -> None:
    from dataclasses import replace

    repo = make_repo({".devcontainer.json": json.dumps(
        {"image": "x/y:1", "features": {"ghcr.io/devcontainers/features/python:1": {}}})})
    with pytest.raises(RepoConfigError, match="builder.devcontainer_features is 'error'"):
        detect(repo, replace(settings, devcontainer_features="error"))


@pytest.mark.parametrize(("config", "message"), [
    ({}, "names neither an image nor a build.dockerfile"),
    ({"dockerComposeFile": "x.yml"}, "does not run Docker Compose"),
    ({"build": {"dockerfile": "Missing"}}, "build.dockerfile .devcontainer/Missing does not exist"),
    ({"image": "x; rm -rf /"}, "is not an image reference"),
    ({"image": "x/y:1", "containerEnv": {"BAD NAME": "v"}}, "not a valid environment variable name"),
    ({"image": "x/y:1", "containerEnv": {"A": "two\nlines"}}, "spans several lines"),
    ({"image": "x/y:1", "remoteUser": "root; echo"}, "is not a user name or uid"),
    ({"image": "x/y:1", "postCreateCommand": 5}, "postCreateCommand must be a string"),
    ({"image": "x/y:1", "workspaceFolder": "/a/../etc"}, "workspaceFolder must be an absolute path"),
])
def test_invalid_devcontainers_name_the_key(make_repo, settings, config, message) -> None:
    repo = make_repo({".devcontainer/devcontainer.json": json.dumps(config)})
    with pytest.raises(RepoConfigError, match="devcontainer.json") as caught:
        detect(repo, settings)
    assert message in str(caught.value)


def test_host_side_and_privileged_settings_are_never_applied(make_repo, settings) -> None:
    config = {"image": "x/y:1", "initializeCommand": "touch /tmp/host-pwned",
              "runArgs": ["--privileged"], "privileged": True, "mounts": ["source=/,target=/host"]}
    plan = render(detect(make_repo({".devcontainer.json": json.dumps(config)}), settings),
                  settings, ca_bundle=None)
    assert "host-pwned" not in plan.dockerfile and "privileged" not in plan.dockerfile
    notes = "\n".join(plan.summary)
    for key in ("initializeCommand", "runArgs", "privileged", "mounts"):
        assert f"{key} is not applied" in notes
