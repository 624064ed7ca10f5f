"""The ``Engine`` contract (bindery/engine/base.py), checked on every registered engine.

Parametrised over ``ENGINES.names()``; each engine is built as the composition root
builds it, ``cls(options_model())``. Everything past construction runs against the
real engine (``@pytest.mark.engine``): a tiny image is built FROM the offline base
image ``bindery/base:bookworm`` and its containers are run, inspected and stopped.
Names carry a per-run suffix and everything is removed at the end.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bindery.engine.base import (
    ENGINES,
    BuildRequest,
    ContainerExited,
    Engine,
    EngineError,
    RunRequest,
)
from bindery.errors import BuildError

from .support import no_io

NAMES = ENGINES.names()
BASE_IMAGE = "bindery/base:bookworm"
RUN_ID = secrets.token_hex(4)
LABEL = "org.bindery.contract-test"


def _engine(name: str) -> Engine:
    cls = ENGINES.load(name)
    return cls(cls.options_model())


@pytest.mark.parametrize("name", NAMES)
def test_constructed_from_its_options_without_contacting_the_engine(name: str) -> None:
    """``bindery --help`` and config checks build parts; an engine connects on first use."""
    cls = ENGINES.load(name)
    with no_io():
        engine = cls(cls.options_model())
    assert engine.options == cls.options_model()


# -- against the real engine --------------------------------------------------------


@pytest.fixture(scope="module", params=NAMES)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    yield _engine(request.param)


@pytest.fixture(scope="module")
def tiny_image(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A tiny image built by the engine itself (the build is part of the contract)."""
    context = tmp_path_factory.mktemp("tiny-image")
    (context / "hello.txt").write_text("hello from the contract image\n")
    (context / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nCOPY hello.txt /hello.txt\nCMD [\"sleep\", \"300\"]\n")
    tag = f"bindery-contract/tiny-{RUN_ID}:1"
    lines: list[str] = []
    engine.build(BuildRequest(context, context / "Dockerfile", tag, {LABEL: RUN_ID}), lines.append)
    assert lines, "the build log is streamed"
    yield tag
    engine.remove_image(tag)


def _request(image: str, command: list[str], suffix: str) -> RunRequest:
    return RunRequest(image=image, token="contract-token", command=command,
                      name=f"bindery-contract-{RUN_ID}-{suffix}", labels={LABEL: RUN_ID},
                      memory="128m", start_timeout=60)


@pytest.mark.engine
def test_check_describes_the_engine_in_one_line(engine: Engine) -> None:
    text = engine.check()
    assert text.strip() and "\n" not in text.strip()


@pytest.mark.engine
def test_a_missing_image_has_no_labels_and_removing_it_is_fine(engine: Engine) -> None:
    missing = f"bindery-contract/never-built-{RUN_ID}:nope"
    assert engine.image_labels(missing) is None
    engine.remove_image(missing)


@pytest.mark.engine
def test_a_built_image_has_its_labels_and_files(engine: Engine, tiny_image: str) -> None:
    labels = engine.image_labels(tiny_image)
    assert labels is not None and labels[LABEL] == RUN_ID
    assert engine.read_file(tiny_image, "/hello.txt") == "hello from the contract image\n"


@pytest.mark.engine
def test_tagging_gives_the_same_image_a_second_name(engine: Engine, tiny_image: str) -> None:
    """Optional: an engine that cannot tag says False (the builder then makes a label build)."""
    target = f"bindery-contract/tagged-{RUN_ID}:2"
    try:
        if engine.tag_image(tiny_image, target):
            assert engine.image_labels(target) == engine.image_labels(tiny_image)
            assert engine.read_file(target, "/hello.txt") == "hello from the contract image\n"
        else:
            assert engine.image_labels(target) is None
        assert engine.tag_image(f"bindery-contract/never-built-{RUN_ID}:nope", target + "x") is False
    finally:
        engine.remove_image(target)
    assert engine.image_labels(tiny_image) is not None  # removing one name keeps the other


@pytest.mark.engine
def test_reading_a_small_file_never_comes_back_empty(engine: Engine, tiny_image: str) -> None:
    """Reads through a container's output lost small files about one time in three."""
    reads = {engine.read_file(tiny_image, "/hello.txt") for _ in range(8)}
    assert reads == {"hello from the contract image\n"}


@pytest.mark.engine
def test_a_failed_build_says_why_and_leaves_no_image(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {BASE_IMAGE}\nRUN echo contract-step-fails >&2 && exit 7\n")
    tag = f"bindery-contract/broken-{RUN_ID}:1"
    with pytest.raises(BuildError) as failed:
        engine.build(BuildRequest(tmp_path, tmp_path / "Dockerfile", tag), lambda line: None)
    assert "contract-step-fails" in failed.value.log_tail
    assert engine.image_labels(tag) is None
    # The failing step is named, with its own output (when the engine can tell).
    if failed.value.step:
        assert "exit 7" in failed.value.step and failed.value.exit_code == 7
        assert "contract-step-fails" in failed.value.step_output


@pytest.mark.engine
def test_a_base_image_it_cannot_make_is_an_engine_error_naming_it(engine: Engine) -> None:
    name = f"bindery-contract/not-a-debian-release-{RUN_ID}:1"
    with pytest.raises(EngineError, match=name):
        engine.provide_base_image(name, "", lambda line: None)


@pytest.mark.engine
def test_pulling_what_no_registry_has_is_an_engine_error(engine: Engine) -> None:
    with pytest.raises(EngineError, match="could not be pulled"):
        engine.pull_image(f"127.0.0.1:9/bindery-contract/nowhere-{RUN_ID}:1")  # loopback, closed


@pytest.mark.engine
def test_run_inspect_logs_stop(engine: Engine, tiny_image: str) -> None:
    request = _request(tiny_image, ["sh", "-c", "echo contract-hello; exec sleep 300"], "run")
    server = engine.run(request)
    try:
        assert server.host_port > 0 and server.url == f"http://127.0.0.1:{server.host_port}"
        assert engine.is_running(server.container_id)
        state = engine.inspect(server.container_id)
        assert state is not None and state.running and not state.ended
        assert state.labels[LABEL] == RUN_ID and state.published == {8888: server.host_port}
        assert engine.inspect(str(request.name)) == state, "found by name too"
        deadline = time.monotonic() + 10
        while "contract-hello" not in engine.logs(server.container_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "contract-hello" in engine.logs(server.container_id)
    finally:
        engine.stop(server.container_id, grace=0)
    assert not engine.is_running(server.container_id)
    assert engine.inspect(server.container_id) is None
    engine.stop(server.container_id)  # stopping what is gone is fine
    assert engine.logs(server.container_id) == ""


@pytest.mark.engine
def test_a_container_that_ends_is_reported_with_its_exit_status(engine: Engine, tiny_image: str) -> None:
    request = _request(tiny_image, ["sh", "-c", "echo contract-bye; exit 3"], "exits")
    try:
        server = engine.run(request)
    except ContainerExited as exited:  # it ended before run() saw it running: removed again
        assert exited.state.exit_code == 3 and exited.state.ended
        assert "contract-bye" in exited.log_tail
        assert engine.inspect(str(request.name)) is None
        return
    try:  # it ran for a moment: now it is ended, with its status and output kept until stop
        deadline = time.monotonic() + 10
        while engine.is_running(server.container_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        state = engine.inspect(server.container_id)
        assert state is not None and state.ended and not state.running and state.exit_code == 3
        assert not engine.is_running(server.container_id)
        assert "contract-bye" in engine.logs(server.container_id)
    finally:
        engine.stop(server.container_id, grace=0)
    assert engine.inspect(server.container_id) is None


@pytest.mark.engine
def test_a_container_that_cannot_start_is_an_engine_error_and_removed(
        engine: Engine, tiny_image: str) -> None:
    request = _request(tiny_image, ["/no/such/program"], "cannot-start")
    with pytest.raises(EngineError) as refused:
        engine.run(request)
    assert len(str(refused.value)) > 20
    assert engine.inspect(str(request.name)) is None
