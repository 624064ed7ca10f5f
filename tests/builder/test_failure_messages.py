"""A failed step is named in a person's words and quoted from its own output (pure:
BuildKit's plain progress as Docker 20.10 prints it, fed line by line)."""

from __future__ import annotations

from bindery.builder.failures import explain_failure
from bindery.engine.buildkit_log import BuildKitLog
from bindery.environment import detect, render
from bindery.errors import BuildError

BUILDKIT_OUTPUT = """\
#14 [stage-0  9/12] COPY --chown=1000:1000 repo/ /home/jovyan/
#14 DONE 0.0s

#15 [stage-0 10/12] RUN --mount=type=cache,target=/tmp/uv-cache,uid=1000,gid=1000,id=bindery-uv     chmod +x binder/postBuild && UV_CACHE_DIR=/tmp/uv-cache UV_LINK_MODE=copy ./binder/postBuild
#15 sha256:0b5c
#15 0.201 preparing
#15 0.213 ./binder/postBuild: line 5: npm: command not found
#15 ERROR: executor failed running [/bin/sh -c chmod +x binder/postBuild && ./binder/postBuild]: exit code: 127
------
 > [stage-0 10/12] RUN chmod +x binder/postBuild && ./binder/postBuild:
#15 0.201 preparing
#15 0.213 ./binder/postBuild: line 5: npm: command not found
------
executor failed running [/bin/sh -c chmod +x binder/postBuild && ./binder/postBuild]: exit code: 127
"""


def test_the_failed_step_and_its_own_lines_are_found() -> None:
    log = BuildKitLog()
    for line in BUILDKIT_OUTPUT.splitlines(keepends=True):
        log.feed(line)
    failed = log.failed_step()
    assert failed is not None and failed.exit_code == 127
    assert failed.header.startswith("[stage-0 10/12] RUN")
    # the summary BuildKit repeats after ERROR is not counted twice
    assert failed.output == ("preparing", "./binder/postBuild: line 5: npm: command not found")


def test_the_message_names_the_step_and_quotes_the_line(make_repo_dir, options) -> None:
    repo = make_repo_dir({"binder/postBuild": "#!/bin/bash\n", "binder/runtime.txt": "python-3.10\n"})
    plan = render(detect(repo, options), options, ca_bundle=None, bundled_uv=True)
    log = BuildKitLog()
    for line in BUILDKIT_OUTPUT.splitlines(keepends=True):
        log.feed(line)
    failed = log.failed_step()
    assert failed is not None
    error = BuildError("engine text", "tail", step=failed.header, step_output=failed.output,
                       exit_code=failed.exit_code)
    message = explain_failure(error, plan)
    lines = message.splitlines()
    assert lines[0] == ("binder/postBuild failed (exit code 127): "
                        "binder/postBuild, line 5: npm: command not found")
    assert lines[1] == "Last output of binder/postBuild:" and lines[2] == "  preparing"
    assert "executor failed" not in message
    assert lines[-1].startswith("Note: binder/runtime.txt asks for Python 3.10")


def test_an_unknown_step_is_shown_as_buildkit_names_it(options, make_repo_dir) -> None:
    plan = render(detect(make_repo_dir({}), options), options, ca_bundle=None)
    error = BuildError("x", step="[stage-0 3/9] RUN something-else", step_output=("boom: failed",),
                       exit_code=2)
    assert explain_failure(error, plan).startswith(
        "the build step [stage-0 3/9] RUN something-else failed (exit code 2): boom: failed")
