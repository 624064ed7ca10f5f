"""Files a build leaves for the builder to read back into labels are the repository's to shape.

The R module's report (/srv/bindery-r/report.json) belongs to the user, so a postBuild can
replace it with a link to /dev/zero or a file of gigabytes. The builder reads such files
with ``Engine.read_file``: it must refuse links, devices and oversized files at once,
without streaming them into the builder's memory.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bindery.composition import Settings, make_engine
from bindery.engine.base import BuildRequest, Engine, EngineError
from bindery.engine.docker import MAX_READ_BYTES

pytestmark = [pytest.mark.engine]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return make_engine(Settings())


@pytest.fixture(scope="module")
def hostile_image(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    context: Path = tmp_path_factory.mktemp("hostile-report")
    (context / "Dockerfile").write_text(
        "FROM bindery/base:bookworm\n"
        "RUN mkdir /r && echo '{\"ok\": true}' > /r/report.json"
        " && truncate -s 2M /r/huge.json && ln -s /dev/zero /r/zero.json"
        " && ln -s report.json /r/link.json && mkfifo /r/fifo.json\n"
    )
    tag = f"bindery-test-security/hostile-report-{secrets.token_hex(4)}:1"
    engine.build(BuildRequest(context, context / "Dockerfile", tag), lambda line: None)
    yield tag
    engine.remove_image(tag)


def test_a_regular_small_report_is_read(engine: Engine, hostile_image: str) -> None:
    assert engine.read_file(hostile_image, "/r/report.json") == '{"ok": true}\n'


@pytest.mark.parametrize("name", ["huge.json", "zero.json", "link.json", "fifo.json"])
def test_links_devices_and_huge_files_are_refused_at_once(
    engine: Engine, hostile_image: str, name: str
) -> None:
    started = time.monotonic()
    with pytest.raises(EngineError, match=rf"/r/{name}.*(link|larger than|not a regular file)"):
        engine.read_file(hostile_image, f"/r/{name}")
    assert time.monotonic() - started < 10
    assert MAX_READ_BYTES == 1024 * 1024
