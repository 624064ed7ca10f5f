"""A devcontainer.json repository built on the real engine: its Dockerfile with build
arguments and the repository root as context, containerEnv, postCreateCommand at build
time, the repository in the workspace folder."""

from __future__ import annotations

import json

import pytest

from bindery.sources import resolve
from builder.conftest import run_in_image

pytestmark = [pytest.mark.engine]


def test_devcontainer_dockerfile_env_and_post_create(builder, make_repo) -> None:
    config = {
        "name": "demo",
        "build": {"dockerfile": "Dockerfile", "context": "..", "args": {"GREETING": "from-args"}},
        "containerEnv": {"FOO": "bar"},
        "postCreateCommand": "echo created-$FOO-$(pwd) > /tmp/created",
        "forwardPorts": [8050],
    }
    repo = make_repo({
        ".devcontainer/devcontainer.json": "// written by hand\n" + json.dumps(config, indent=2),
        ".devcontainer/Dockerfile": "FROM bindery/base:bookworm\nARG GREETING\n"
                                    "RUN echo \"$GREETING\" > /arg.txt\n",
        "notes.md": "hello\n",
    })
    events: list[str] = []
    built = builder.build(resolve(str(repo)), on_event=lambda e: events.append(e.get("message", "")))
    try:
        log = "".join(events)
        assert ".devcontainer/devcontainer.json: building .devcontainer/Dockerfile" in log
        assert "forwardPorts 8050 are not forwarded" in log
        assert built.labels["org.bindery.devcontainer"] == ".devcontainer/devcontainer.json"
        assert built.labels["org.bindery.grade"] == "D"
        result = run_in_image(built.name, "cat /arg.txt /tmp/created; echo $FOO; cat notes.md")
        assert result.stdout.split() == ["from-args", "created-bar-/workspaces/project", "bar",
                                         "hello"], result.stderr
    finally:
        builder.engine.remove_image(built.name)


def test_devcontainer_image_on_the_engine_with_object_commands(builder, make_repo) -> None:
    config = {"image": "bindery/base:bookworm", "workspaceFolder": "/work/space",
              "postCreateCommand": {"first": "echo one > /tmp/order",
                                    "second": ["sh", "-c", "echo two >> /tmp/order"]},
              "remoteEnv": {"WHERE": "${containerWorkspaceFolder}/data"}}
    repo = make_repo({".devcontainer.json": json.dumps(config), "data.csv": "a,b\n"})
    built = builder.build(resolve(str(repo)))
    try:
        result = run_in_image(built.name, "cat /tmp/order; echo $WHERE; pwd; cat data.csv")
        assert result.stdout.split() == ["one", "two", "/work/space/data", "/work/space", "a,b"]
    finally:
        builder.engine.remove_image(built.name)
